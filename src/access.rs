//! Who may reach which app: the access rules of `[access]`, decided for a request
//! (forward-auth) and explained (`latchkey access check`) by the same code. Rules are
//! read top to bottom and the first that matches decides; a rule matches when every
//! field it has matches. A rule with `subject` matches only the signed-in users it
//! names: anyone else falls through to the rules below it.
//!
//! Pure: the rules, the request and who asks come in; the decision and why come out.
//! The configuration checks and builds the rules ([`Rule::new`] says what is wrong with
//! one); nothing here reads a store or a clock.

use std::net::IpAddr;

use crate::net::Cidr;

/// What a rule (or the default) asks of whoever comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Let through, signed in or not.
    Bypass,
    /// Nobody.
    Deny,
    /// Any signed-in user.
    OneFactor,
    /// A user whose sign-in used a second factor (or a passkey).
    TwoFactor,
}

impl Policy {
    /// The policy of its name in the configuration.
    pub fn parse(s: &str) -> Option<Policy> {
        Some(match s {
            "bypass" => Policy::Bypass,
            "deny" => Policy::Deny,
            "one_factor" => Policy::OneFactor,
            "two_factor" => Policy::TwoFactor,
            _ => return None,
        })
    }

    /// Its name, as the configuration and the metrics spell it.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Bypass => "bypass",
            Policy::Deny => "deny",
            Policy::OneFactor => "one_factor",
            Policy::TwoFactor => "two_factor",
        }
    }
}

/// Whom a rule is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// The members of a group (its lowered name).
    Group(String),
    /// One user, by email, username or id (compared without case).
    User(String),
}

impl Subject {
    /// `group:NAME` or `user:KEY`.
    pub fn parse(s: &str) -> Option<Subject> {
        match s.split_once(':')? {
            ("group", g) => storage::GroupRecord::normal_name(g).map(Subject::Group),
            ("user", u) if !u.trim().is_empty() => Some(Subject::User(u.trim().to_owned())),
            _ => None,
        }
    }
}

/// A host a rule is for: exact, or every subdomain of a domain (`*.example.com`: any
/// depth, not `example.com` itself). Lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Domain {
    /// This host.
    Exact(String),
    /// Hosts under this domain.
    Under(String),
}

impl Domain {
    /// `host` or `*.domain`.
    pub fn parse(s: &str) -> Option<Domain> {
        let s = s.trim().to_ascii_lowercase();
        let ok = |h: &str| {
            !h.is_empty()
                && h.split('.').all(|l| {
                    !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                })
        };
        match s.strip_prefix("*.") {
            Some(d) if ok(d) => Some(Domain::Under(format!(".{d}"))),
            None if ok(&s) => Some(Domain::Exact(s)),
            _ => None,
        }
    }

    fn matches(&self, host: &str) -> bool {
        match self {
            Domain::Exact(h) => host == h,
            Domain::Under(suffix) => host.len() > suffix.len() && host.ends_with(suffix.as_str()),
        }
    }

    /// How the configuration wrote it.
    pub fn shown(&self) -> String {
        match self {
            Domain::Exact(h) => h.clone(),
            Domain::Under(s) => format!("*{s}"),
        }
    }
}

/// One `[[access.rules]]` entry, checked.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Hosts (empty: any).
    pub domains: Vec<Domain>,
    /// Regexes over path + query (empty: any).
    pub resources: Vec<regex::Regex>,
    /// Methods, upper case (empty: any).
    pub methods: Vec<String>,
    /// Client networks (empty: any).
    pub networks: Vec<Cidr>,
    /// Whom it is for (empty: anyone).
    pub subjects: Vec<Subject>,
    /// What it asks.
    pub policy: Policy,
}

/// The rules of `[access]`, checked.
#[derive(Debug, Clone)]
pub struct Rules {
    /// When no rule matches.
    pub default_policy: Policy,
    /// Read top to bottom (numbered from 1 in messages).
    pub rules: Vec<Rule>,
}

impl Default for Rules {
    /// No rule; any signed-in user passes (forward-auth before rules existed).
    fn default() -> Rules {
        Rules {
            default_policy: Policy::OneFactor,
            rules: Vec::new(),
        }
    }
}

/// The request a proxy asks about.
#[derive(Debug, Clone)]
pub struct Target<'a> {
    /// The host (lower case, no port).
    pub host: &'a str,
    /// Path and query.
    pub path: &'a str,
    /// The method, upper case.
    pub method: &'a str,
    /// The client's address.
    pub ip: IpAddr,
}

/// Who asks, when signed in.
#[derive(Debug, Clone)]
pub struct Who<'a> {
    /// User id.
    pub id: &'a str,
    /// Email.
    pub email: Option<&'a str>,
    /// Username.
    pub username: Option<&'a str>,
    /// Its groups (lowered names).
    pub groups: &'a [String],
    /// Whether the sign-in used a second factor.
    pub two_factors: bool,
}

/// What the answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Let through.
    Allow,
    /// Sign in first.
    SignIn,
    /// A second factor first (the session has one).
    StepUp,
    /// No.
    Deny,
}

impl Decision {
    /// Its name, as the metrics spell it.
    pub fn name(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::SignIn => "sign_in",
            Decision::StepUp => "step_up",
            Decision::Deny => "deny",
        }
    }
}

/// Why a rule did not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    /// The host is in none of its domains.
    Domain,
    /// The path and query match none of its resources.
    Resource,
    /// The method is none of its methods.
    Method,
    /// The client is in none of its networks.
    Network,
    /// Nobody is signed in, and the rule names its subjects.
    SignedOut,
    /// The user is none of its subjects.
    Subject,
}

impl Miss {
    /// In words, for `t`.
    pub fn describe(self, t: &Target<'_>) -> String {
        match self {
            Miss::Domain => format!("host {} is not in domain", t.host),
            Miss::Resource => format!("{} matches no resources", t.path),
            Miss::Method => format!("method {} is not in methods", t.method),
            Miss::Network => format!("{} is in no network", t.ip),
            Miss::SignedOut => "not signed in (the rule names its subjects)".into(),
            Miss::Subject => "the user is none of its subjects".into(),
        }
    }
}

/// A decision and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The answer.
    pub decision: Decision,
    /// The policy that decided.
    pub policy: Policy,
    /// The rule that decided (its index), `None`: the default.
    pub rule: Option<usize>,
    /// With [`Rules::explain`], for each rule before it, why it did not match: `(index,
    /// why)`; empty with [`Rules::decide`] (a request's path allocates nothing for it).
    pub passed: Vec<(usize, Miss)>,
}

impl Rule {
    /// Why this rule does not match, or `None` when it does; `subjects`: whether its
    /// subjects are asked too.
    fn mismatch(&self, t: &Target<'_>, who: Option<&Who<'_>>, subjects: bool) -> Option<Miss> {
        if !self.domains.is_empty() && !self.domains.iter().any(|d| d.matches(t.host)) {
            return Some(Miss::Domain);
        }
        if !self.resources.is_empty() && !self.resources.iter().any(|r| r.is_match(t.path)) {
            return Some(Miss::Resource);
        }
        if !self.methods.is_empty() && !self.methods.iter().any(|m| m == t.method) {
            return Some(Miss::Method);
        }
        if !self.networks.is_empty() && !self.networks.iter().any(|n| n.contains(t.ip)) {
            return Some(Miss::Network);
        }
        if subjects && !self.subjects.is_empty() {
            let Some(w) = who else {
                return Some(Miss::SignedOut);
            };
            if !self.subjects.iter().any(|s| is(w, s)) {
                return Some(Miss::Subject);
            }
        }
        None
    }
}

/// Whether `w` is `s`.
fn is(w: &Who<'_>, s: &Subject) -> bool {
    match s {
        Subject::Group(g) => w.groups.iter().any(|x| x == g),
        Subject::User(u) => {
            w.id == u
                || w.email.is_some_and(|e| e.eq_ignore_ascii_case(u))
                || w.username.is_some_and(|n| n.eq_ignore_ascii_case(u))
        }
    }
}

impl Rules {
    /// The decision for `t` by `who` (`None`: not signed in).
    pub fn decide(&self, t: &Target<'_>, who: Option<&Who<'_>>) -> Verdict {
        self.run(t, who, None)
    }

    /// [`Rules::decide`], saying why each rule before the deciding one did not match
    /// (`latchkey access check`).
    pub fn explain(&self, t: &Target<'_>, who: Option<&Who<'_>>) -> Verdict {
        let mut passed = Vec::new();
        let mut v = self.run(t, who, Some(&mut passed));
        v.passed = passed;
        v
    }

    fn run(
        &self,
        t: &Target<'_>,
        who: Option<&Who<'_>>,
        mut trace: Option<&mut Vec<(usize, Miss)>>,
    ) -> Verdict {
        // An anonymous request that passed a rule which might have matched once signed
        // in is asked to sign in rather than refused by the default.
        let mut could_match_signed_in = false;
        for (i, rule) in self.rules.iter().enumerate() {
            match rule.mismatch(t, who, true) {
                Some(miss) => {
                    if miss == Miss::SignedOut {
                        could_match_signed_in = true;
                    }
                    if let Some(tr) = trace.as_deref_mut() {
                        tr.push((i, miss));
                    }
                }
                None => {
                    return Verdict {
                        decision: outcome(rule.policy, who),
                        policy: rule.policy,
                        rule: Some(i),
                        passed: Vec::new(),
                    }
                }
            }
        }
        let mut decision = outcome(self.default_policy, who);
        if decision == Decision::Deny && who.is_none() && could_match_signed_in {
            decision = Decision::SignIn;
        }
        Verdict {
            decision,
            policy: self.default_policy,
            rule: None,
            passed: Vec::new(),
        }
    }
}

/// What `policy` answers `who`.
fn outcome(policy: Policy, who: Option<&Who<'_>>) -> Decision {
    match (policy, who) {
        (Policy::Bypass, _) => Decision::Allow,
        (Policy::Deny, _) => Decision::Deny,
        (_, None) => Decision::SignIn,
        (Policy::OneFactor, Some(_)) => Decision::Allow,
        (Policy::TwoFactor, Some(w)) if w.two_factors => Decision::Allow,
        (Policy::TwoFactor, Some(_)) => Decision::StepUp,
    }
}

/// What an OpenID Connect client's `allowed_groups` and `require_mfa` answer `who`, and
/// why: `Deny` (not a member: `access_denied`), `StepUp` (two factors wanted, the sign-in
/// has one) or `Allow`. The one rule of the authorization endpoint, the refresh grant and
/// `latchkey access check --client`.
pub fn oidc_decision(
    allowed_groups: Option<&[String]>,
    require_mfa: bool,
    who: &Who<'_>,
) -> (Decision, String) {
    if let Some(allowed) = allowed_groups {
        if !allowed.iter().any(|g| who.groups.contains(g)) {
            return (
                Decision::Deny,
                format!("not a member of {}", allowed.join(", ")),
            );
        }
    }
    if require_mfa && !who.two_factors {
        return (Decision::StepUp, "the client requires two factors".into());
    }
    (
        Decision::Allow,
        "the client's allowed_groups and require_mfa".into(),
    )
}

/// Whether a session of `amr` counts two factors: a second factor after the first
/// (`mfa`), or a passkey (`hwk`: user verification is required of every passkey).
pub use crate::service::policy::two_factors;

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(policy: Policy) -> Rule {
        Rule {
            domains: Vec::new(),
            resources: Vec::new(),
            methods: Vec::new(),
            networks: Vec::new(),
            subjects: Vec::new(),
            policy,
        }
    }

    fn target<'a>(host: &'a str, path: &'a str) -> Target<'a> {
        Target {
            host,
            path,
            method: "GET",
            ip: "192.168.1.20".parse().unwrap(),
        }
    }

    #[test]
    fn the_first_matching_rule_decides_and_the_others_say_why_not() {
        let groups = vec!["admins".to_string()];
        let admin = Who {
            id: "u1",
            email: Some("ann@example.com"),
            username: Some("ann"),
            groups: &groups,
            two_factors: false,
        };
        let rules = Rules {
            default_policy: Policy::Deny,
            rules: vec![
                Rule {
                    domains: vec![Domain::parse("public.example.com").unwrap()],
                    ..rule(Policy::Bypass)
                },
                Rule {
                    domains: vec![Domain::parse("grafana.example.com").unwrap()],
                    resources: vec![regex::Regex::new("^/admin(/.*)?$").unwrap()],
                    subjects: vec![Subject::parse("group:Admins").unwrap()],
                    ..rule(Policy::TwoFactor)
                },
                Rule {
                    domains: vec![Domain::parse("*.example.com").unwrap()],
                    subjects: vec![Subject::parse("user:ANN@example.com").unwrap()],
                    ..rule(Policy::OneFactor)
                },
            ],
        };
        let v = rules.explain(&target("grafana.example.com", "/admin/users"), Some(&admin));
        assert_eq!((v.decision, v.rule), (Decision::StepUp, Some(1)));
        assert_eq!(v.passed, [(0, Miss::Domain)]);
        assert!(rules
            .decide(&target("grafana.example.com", "/admin"), Some(&admin))
            .passed
            .is_empty());
        let two = Who {
            two_factors: true,
            ..admin.clone()
        };
        assert_eq!(
            rules
                .decide(&target("grafana.example.com", "/admin"), Some(&two))
                .decision,
            Decision::Allow
        );
        // Anonymous: a subject rule might match once signed in, so: sign in.
        let v = rules.decide(&target("grafana.example.com", "/admin"), None);
        assert_eq!((v.decision, v.rule), (Decision::SignIn, None));
        assert_eq!(
            rules
                .decide(&target("public.example.com", "/"), None)
                .decision,
            Decision::Allow
        );
        // `*.example.com` is not example.com itself; nobody matches there: deny.
        let v = rules.explain(&target("example.com", "/"), Some(&admin));
        assert_eq!(
            (v.decision, v.rule, v.passed.len()),
            (Decision::Deny, None, 3)
        );
        let v = rules.decide(&target("a.b.example.com", "/"), Some(&admin));
        assert_eq!((v.decision, v.rule), (Decision::Allow, Some(2)));
        let bob = Who {
            id: "u2",
            email: Some("bob@example.com"),
            username: Some("bob"),
            groups: &[],
            two_factors: true,
        };
        assert_eq!(
            rules
                .decide(&target("grafana.example.com", "/admin"), Some(&bob))
                .decision,
            Decision::Deny
        );
    }

    #[test]
    fn methods_networks_and_names_parse_strictly() {
        assert_eq!(
            Domain::parse("App.Example.com"),
            Some(Domain::Exact("app.example.com".into()))
        );
        assert!(Domain::parse("*.").is_none() && Domain::parse("a..b").is_none());
        assert!(Domain::parse("*.*.example.com").is_none() && Domain::parse("a b").is_none());
        assert!(Subject::parse("group:a b").is_none() && Subject::parse("team:x").is_none());
        assert_eq!(Policy::parse("two_factor"), Some(Policy::TwoFactor));
        assert!(Policy::parse("2fa").is_none());
        let r = Rules {
            default_policy: Policy::OneFactor,
            rules: vec![Rule {
                methods: vec!["POST".into()],
                networks: vec![Cidr::parse("10.0.0.0/8").unwrap()],
                ..rule(Policy::Deny)
            }],
        };
        let mut t = target("x", "/");
        assert_eq!(r.decide(&t, None).decision, Decision::SignIn);
        t.method = "POST";
        assert_eq!(
            r.decide(&t, None).decision,
            Decision::SignIn,
            "not from 10/8"
        );
        t.ip = "10.1.2.3".parse().unwrap();
        assert_eq!(r.decide(&t, None).decision, Decision::Deny);
        assert!(two_factors(&["pwd".into(), "mfa".into()]) && two_factors(&["hwk".into()]));
        assert!(!two_factors(&["pwd".into(), "otp".into()]));
    }
}
