//! What people read, in their language: the portal's pages and the mails, from Fluent
//! catalogs (`locales/<code>.ftl`, one per language, built into the binary). A page is
//! in the language its visitor chose with the pages' switch (a cookie), else the best
//! match of the browser's `Accept-Language`, else `portal.default_language`.
//!
//! English is the reference: every other catalog has exactly its messages with the same
//! variables (the tests check it, and that every message the code asks for exists). A
//! message missing at run time falls back to English, then to its id: a page never
//! fails for want of a translation.

use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

/// The languages the catalogs speak: code, name (in that language), catalog.
const CATALOGS: [(&str, &str, &str); 3] = [
    ("en", "English", include_str!("../locales/en.ftl")),
    ("de", "Deutsch", include_str!("../locales/de.ftl")),
    ("fr", "Français", include_str!("../locales/fr.ftl")),
];

/// A language of the catalogs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lang(usize);

impl Default for Lang {
    fn default() -> Lang {
        Lang::EN
    }
}

/// A value a message is given (`{ $name }`): text, or a number (plurals select on it).
#[derive(Debug, Clone, Copy)]
pub enum Arg<'a> {
    /// Text, shown as it is.
    Text(&'a str),
    /// A count.
    Count(u64),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(s: &'a str) -> Arg<'a> {
        Arg::Text(s)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(s: &'a String) -> Arg<'a> {
        Arg::Text(s)
    }
}

impl From<u64> for Arg<'_> {
    fn from(n: u64) -> Self {
        Arg::Count(n)
    }
}

impl From<usize> for Arg<'_> {
    fn from(n: usize) -> Self {
        Arg::Count(u64::try_from(n).unwrap_or(u64::MAX))
    }
}

type Bundle = FluentBundle<FluentResource>;

fn bundles() -> &'static [Bundle] {
    static BUNDLES: OnceLock<Vec<Bundle>> = OnceLock::new();
    BUNDLES.get_or_init(|| {
        CATALOGS
            .iter()
            .map(|(code, _, source)| {
                let id: LanguageIdentifier = code.parse().unwrap_or_default();
                let mut b = Bundle::new_concurrent(vec![id]);
                // Plain text: no Unicode isolation marks around values (pages and mail
                // subjects are read as they are; maud escapes what pages show).
                b.set_use_isolating(false);
                // A catalog with a syntax error keeps what parses (the tests refuse it).
                let resource = match FluentResource::try_new((*source).to_owned()) {
                    Ok(r) | Err((r, _)) => r,
                };
                let _ = b.add_resource(resource);
                b
            })
            .collect()
    })
}

impl Lang {
    /// English: the reference catalog.
    pub const EN: Lang = Lang(0);

    /// Every language, English first.
    pub fn all() -> impl Iterator<Item = Lang> {
        (0..CATALOGS.len()).map(Lang)
    }

    /// The language of a code (`de`), if there is a catalog for it.
    pub fn from_code(code: &str) -> Option<Lang> {
        CATALOGS
            .iter()
            .position(|(c, _, _)| c.eq_ignore_ascii_case(code))
            .map(Lang)
    }

    /// The codes of every language, for messages about them.
    pub fn codes() -> Vec<&'static str> {
        CATALOGS.iter().map(|(c, _, _)| *c).collect()
    }

    /// Its code (`de`), as `lang` attributes and the switch use it.
    pub fn code(self) -> &'static str {
        CATALOGS.get(self.0).map_or("en", |(c, _, _)| c)
    }

    /// Its name in itself (`Deutsch`), as the switch shows it.
    pub fn name(self) -> &'static str {
        CATALOGS.get(self.0).map_or("English", |(_, n, _)| n)
    }

    /// The best language for an `Accept-Language` header (RFC 9110 §12.5.4: by weight,
    /// `q=0` refused, a region matching its language), else `fallback`.
    pub fn negotiate(accept_language: Option<&str>, fallback: Lang) -> Lang {
        let Some(header) = accept_language else {
            return fallback;
        };
        let mut wanted: Vec<(u16, usize, LanguageIdentifier)> = Vec::new();
        for (i, item) in header.split(',').take(32).enumerate() {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or_default().trim();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1000), quality);
            let (Some(q), Ok(id)) = (q, tag.parse::<LanguageIdentifier>()) else {
                continue;
            };
            if q > 0 && tag != "*" {
                wanted.push((q, i, id));
            }
        }
        // Highest weight first; equal weights in the header's order.
        wanted.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let requested: Vec<LanguageIdentifier> = wanted.into_iter().map(|w| w.2).collect();
        let available: Vec<LanguageIdentifier> = CATALOGS
            .iter()
            .filter_map(|(c, _, _)| c.parse().ok())
            .collect();
        let chosen = fluent_langneg::negotiate_languages(
            &requested,
            &available,
            None,
            fluent_langneg::NegotiationStrategy::Lookup,
        );
        chosen
            .first()
            .and_then(|id| Lang::from_code(id.language.as_str()))
            .unwrap_or(fallback)
    }

    /// Message `id` in this language.
    pub fn t(self, id: &str) -> String {
        self.tf(id, &[])
    }

    /// Message `id` in this language, given `args`.
    pub fn tf(self, id: &str, args: &[(&str, Arg<'_>)]) -> String {
        let mut fargs = FluentArgs::new();
        for (k, v) in args {
            match *v {
                Arg::Text(s) => fargs.set(*k, FluentValue::from(s)),
                Arg::Count(n) => fargs.set(*k, FluentValue::from(n)),
            }
        }
        let all = bundles();
        for b in [all.get(self.0), all.first()].into_iter().flatten() {
            if let Some(pattern) = b.get_message(id).and_then(|m| m.value()) {
                let mut errors = Vec::new();
                let text = b.format_pattern(pattern, Some(&fargs), &mut errors);
                return text.into_owned();
            }
        }
        id.to_owned()
    }
}

/// A `q=` weight in thousandths (`0.8` → 800); `None` when it is not one.
fn quality(q: &str) -> Option<u16> {
    let q = q.trim();
    let (int, frac) = q.split_once('.').unwrap_or((q, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths = format!("{frac:0<3}").parse::<u16>().ok()?;
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn ids(source: &str) -> BTreeSet<String> {
        // A message starts a line with its id and ` =`.
        source
            .lines()
            .filter(|l| l.starts_with(|c: char| c.is_ascii_lowercase()))
            .filter_map(|l| l.split_once(" =").map(|(id, _)| id.trim().to_owned()))
            .collect()
    }

    #[test]
    fn every_catalog_parses_cleanly() {
        for (code, _, source) in CATALOGS {
            if let Err((_, errors)) = FluentResource::try_new(source.to_owned()) {
                panic!("locales/{code}.ftl: {errors:?}");
            }
        }
    }

    #[test]
    fn every_catalog_has_the_messages_of_english_and_no_other() {
        let en = ids(CATALOGS[0].2);
        assert!(en.len() > 100, "{}", en.len());
        for (code, _, source) in &CATALOGS[1..] {
            let other = ids(source);
            let missing: Vec<_> = en.difference(&other).collect();
            let extra: Vec<_> = other.difference(&en).collect();
            assert!(missing.is_empty(), "locales/{code}.ftl lacks {missing:?}");
            assert!(extra.is_empty(), "locales/{code}.ftl has unknown {extra:?}");
        }
    }

    /// Every variable a message may be given, with a value that stands out.
    const PROBES: [(&str, &str); 12] = [
        ("app", "«APP»"),
        ("who", "«WHO»"),
        ("issuer", "«ISSUER»"),
        ("code", "«CODE»"),
        ("new", "«NEW»"),
        ("when", "«WHEN»"),
        ("name", "«NAME»"),
        ("method", "«METHOD»"),
        ("detail", "«DETAIL»"),
        ("title", "«TITLE»"),
        ("what", "«WHAT»"),
        ("ip", "«IP»"),
    ];

    #[test]
    fn translations_use_the_variables_english_uses() {
        let en = ids(CATALOGS[0].2);
        for count in [1u64, 7] {
            let mut args: Vec<(&str, Arg<'_>)> =
                PROBES.iter().map(|(k, v)| (*k, Arg::Text(v))).collect();
            args.extend([("minutes", Arg::Count(count)), ("min", Arg::Count(count))]);
            for id in &en {
                let reference = Lang::EN.tf(id, &args);
                for lang in Lang::all().skip(1) {
                    let text = lang.tf(id, &args);
                    for (_, probe) in PROBES {
                        assert_eq!(
                            reference.contains(probe),
                            text.contains(probe),
                            "{id} in {}: {text:?} (English: {reference:?})",
                            lang.code()
                        );
                    }
                    assert!(
                        !text.contains("{$") && !text.contains("{ $"),
                        "{id}: {text}"
                    );
                }
                // Every variable given resolves (an unknown one shows as `{$x}`).
                assert!(!reference.contains('{'), "{id}: {reference}");
            }
        }
    }

    #[test]
    fn every_message_the_code_asks_for_is_in_english() {
        let en = ids(CATALOGS[0].2);
        let sources = [
            include_str!("portal/mod.rs"),
            include_str!("portal/pages.rs"),
            include_str!("portal/oidc.rs"),
            include_str!("mail.rs"),
        ];
        let mut asked = 0;
        for src in sources {
            for call in [".t(\"", ".tf(\""] {
                for (at, _) in src.match_indices(call) {
                    let rest = src.get(at + call.len()..).unwrap_or_default();
                    let id = rest.split('"').next().unwrap_or_default();
                    assert!(en.contains(id), "no message {id:?} in locales/en.ftl");
                    asked += 1;
                }
            }
        }
        assert!(asked > 80, "{asked}");
    }

    #[test]
    fn accept_language_picks_by_weight_and_falls_back() {
        let de = Lang::from_code("de").unwrap();
        let fr = Lang::from_code("fr").unwrap();
        assert_eq!(
            Lang::negotiate(Some("de-AT,de;q=0.9,en;q=0.5"), Lang::EN),
            de
        );
        assert_eq!(Lang::negotiate(Some("en;q=0.4, fr-CA;q=0.8"), Lang::EN), fr);
        assert_eq!(Lang::negotiate(Some("fr;q=0, de"), Lang::EN), de);
        assert_eq!(Lang::negotiate(Some("ja, *;q=0.1"), fr), fr);
        assert_eq!(Lang::negotiate(Some("q=;;,,"), de), de);
        assert_eq!(Lang::negotiate(None, de), de);
        assert_eq!(Lang::negotiate(Some("en-GB"), de), Lang::EN);
        assert_eq!(quality("0.8"), Some(800));
        assert_eq!(quality("1.000"), Some(1000));
        assert_eq!(quality("1.5"), None);
        assert_eq!(quality("0.1234"), None);
    }

    #[test]
    fn plurals_and_fallbacks() {
        let de = Lang::from_code("de").unwrap();
        assert_eq!(
            Lang::EN.tf("error-wait", &[("minutes", 1u64.into())]),
            "Too many attempts. Try again in 1 minute."
        );
        assert_eq!(
            Lang::EN.tf("error-wait", &[("minutes", 5u64.into())]),
            "Too many attempts. Try again in 5 minutes."
        );
        assert!(de
            .tf("error-wait", &[("minutes", 5u64.into())])
            .contains('5'));
        assert_eq!(de.t("no-such-message"), "no-such-message");
    }
}
