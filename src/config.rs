//! Configuration: defaults < `auth.toml` < `LATCHKEY_<SECTION>__<KEY>` environment
//! variables, read with figment into [`Config`] (every key of the contract, unknown keys
//! refused), then checked for sense by [`Config::validate`], which names the key at fault.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

/// Prefix of the environment overrides.
pub const ENV_PREFIX: &str = "LATCHKEY_";

macro_rules! section {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty = $default:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields, default)]
        pub struct $name { $($(#[$fm])* pub $field: $ty),* }
        impl Default for $name {
            fn default() -> Self { Self { $($field: $default),* } }
        }
    };
}

section!(
    /// `[server]`
    Server {
        /// Address of the public listener.
        listen: String = "127.0.0.1:8080".into(),
        /// Public base URL (used in messages that point back to the server).
        public_url: String = "http://localhost:8080".into(),
        /// Largest accepted request body, bytes.
        max_body: u64 = 65536,
        /// Longest a request may take, seconds.
        request_timeout: u64 = 30,
    }
);

section!(
    /// `[storage]`
    Storage {
        /// Path of the redb file.
        path: PathBuf = PathBuf::from("latchkey.redb"),
        /// The server key file (session-code MACs, TOTP secret sealing); empty: the
        /// store's path + `.key`. Kept out of the store on purpose.
        key_file: PathBuf = PathBuf::new(),
    }
);

section!(
    /// `[tokens]`
    Tokens {
        /// `jwt` or `paseto`.
        format: String = "jwt".into(),
        /// jwt: EdDSA | ES256 | HS256; paseto: v4.public | v4.local.
        algorithm: String = "EdDSA".into(),
        /// `iss` claim.
        issuer: String = "http://localhost:8080".into(),
        /// Access-token lifetime, seconds.
        access_ttl: u64 = 1800,
        /// Refresh-token lifetime, seconds.
        refresh_ttl: u64 = 2_592_000,
        /// Grace period for presenting a spent refresh token again, seconds.
        reuse_interval: u64 = 10,
        /// Verified access tokens remembered (signature checks saved); 0 = off.
        cache_size: usize = 10_000,
    }
);

section!(
    /// `password.scrypt`
    Scrypt {
        /// log2 of the CPU/memory cost.
        log_n: u8 = 15,
        /// Block size.
        r: u32 = 8,
        /// Parallelism.
        p: u32 = 1,
    }
);

section!(
    /// `[password]`
    Password {
        /// Shortest accepted password, characters.
        min_length: usize = 8,
        /// scrypt parameters for new hashes.
        scrypt: Scrypt = Scrypt::default(),
        /// Hashes computed at once; 0 = one per core.
        hash_threads: usize = 0,
        /// Requests allowed to wait for a hashing thread; beyond: 503 with Retry-After.
        hash_queue: usize = 64,
    }
);

section!(
    /// `mail.smtp`
    Smtp {
        /// SMTP host.
        host: String = "127.0.0.1".into(),
        /// SMTP port.
        port: u16 = 25,
        /// none | starttls | implicit.
        tls: String = "none".into(),
        /// SMTP user (empty: no authentication).
        username: String = String::new(),
        /// SMTP password.
        password: String = String::new(),
    }
);

section!(
    /// `[mail]`
    Mail {
        /// `log` or `smtp`.
        transport: String = "log".into(),
        /// From header.
        from: String = "latchkey <no-reply@localhost>".into(),
        /// Longest one delivery may take (connection included), seconds.
        timeout: u64 = 10,
        /// SMTP settings.
        smtp: Smtp = Smtp::default(),
    }
);

section!(
    /// `[session]`
    Session {
        /// Session-code lifetime, seconds.
        code_ttl: u64 = 600,
        /// Create accounts on first code redemption.
        allow_signup: bool = true,
        /// A new login for an address spends the codes mailed to it before.
        invalidate_previous: bool = false,
    }
);

section!(
    /// `[mfa]`
    Mfa {
        /// Issuer shown by authenticator apps.
        issuer: String = "latchkey".into(),
    }
);

section!(
    /// `[limits]`
    Limits {
        /// Token bucket per client IP over every credential route; 0 = off.
        per_ip_per_minute: u32 = 600,
        /// Failed sign-ins of one account within `lockout_window` that lock it.
        lockout_failures: u32 = 10,
        /// Window for counting failures, seconds.
        lockout_window: u64 = 900,
        /// How long a locked account stays locked, seconds.
        lockout_duration: u64 = 900,
        /// Session codes mailed to one address per hour.
        mails_per_hour: u32 = 5,
    }
);

/// A family's mount: a path prefix, or `false` for off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Mount {
    /// `false` switches the family off (`true` keeps its default prefix).
    Switch(bool),
    /// Mount prefix.
    At(String),
}

section!(
    /// `[families]`
    Families {
        /// Passwordless email codes + TOTP.
        session: Mount = Mount::At("/session".into()),
        /// OAuth2-style password grant.
        oauth: Mount = Mount::At("/".into()),
        /// Identity-toolkit style.
        toolkit: Mount = Mount::At("/api/auth".into()),
        /// Registration API with field errors.
        v0: Mount = Mount::At("/api/v0".into()),
    }
);

section!(
    /// One `[[oauth.clients]]` entry.
    Client {
        /// Client id.
        id: String = String::new(),
        /// Client secret.
        secret: String = String::new(),
    }
);

section!(
    /// `[oauth]`
    OAuth {
        /// Roles a user may pick at sign-up.
        signup_roles: Vec<String> = vec!["user".into(), "manager".into()],
        /// Clients allowed on `/auth/token`.
        clients: Vec<Client> = vec![Client { id: "web".into(), secret: "change-me".into() }],
    }
);

section!(
    /// `[forward_auth]`
    ForwardAuth {
        /// Cookie that may carry the access token for `GET /auth/forward` when no
        /// `Authorization` header is sent; empty: header only.
        cookie: String = String::new(),
    }
);

section!(
    /// `[log]`
    Log {
        /// `auto` (human on a terminal, JSON lines otherwise), `human` or `json`.
        format: String = "auto".into(),
    }
);

section!(
    /// `[admin]`
    Admin {
        /// Address of the admin listener.
        listen: String = "127.0.0.1:8081".into(),
        /// Bearer token of the admin API; empty = off.
        token: String = String::new(),
    }
);

section!(
    /// The whole configuration.
    Config {
        /// `[server]`
        server: Server = Server::default(),
        /// `[storage]`
        storage: Storage = Storage::default(),
        /// `[tokens]`
        tokens: Tokens = Tokens::default(),
        /// `[password]`
        password: Password = Password::default(),
        /// `[mail]`
        mail: Mail = Mail::default(),
        /// `[session]`
        session: Session = Session::default(),
        /// `[mfa]`
        mfa: Mfa = Mfa::default(),
        /// `[limits]`
        limits: Limits = Limits::default(),
        /// `[families]`
        families: Families = Families::default(),
        /// `[oauth]`
        oauth: OAuth = OAuth::default(),
        /// `[admin]`
        admin: Admin = Admin::default(),
        /// `[log]`
        log: Log = Log::default(),
        /// `[forward_auth]`
        forward_auth: ForwardAuth = ForwardAuth::default(),
    }
);

/// The token format and algorithm, as one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenAlg {
    /// JWT, Ed25519.
    JwtEdDsa,
    /// JWT, ECDSA P-256 SHA-256.
    JwtEs256,
    /// JWT, HMAC SHA-256.
    JwtHs256,
    /// PASETO v4.public (Ed25519).
    PasetoV4Public,
    /// PASETO v4.local (XChaCha20 + BLAKE2b).
    PasetoV4Local,
}

impl TokenAlg {
    /// Every algorithm.
    pub const ALL: [TokenAlg; 5] = [
        TokenAlg::JwtEdDsa,
        TokenAlg::JwtEs256,
        TokenAlg::JwtHs256,
        TokenAlg::PasetoV4Public,
        TokenAlg::PasetoV4Local,
    ];

    /// The name stored with a key (`jwt:EdDSA`, `paseto:v4.public`, ...).
    pub fn id(self) -> &'static str {
        match self {
            TokenAlg::JwtEdDsa => "jwt:EdDSA",
            TokenAlg::JwtEs256 => "jwt:ES256",
            TokenAlg::JwtHs256 => "jwt:HS256",
            TokenAlg::PasetoV4Public => "paseto:v4.public",
            TokenAlg::PasetoV4Local => "paseto:v4.local",
        }
    }

    /// Parses [`TokenAlg::id`].
    pub fn from_id(s: &str) -> Option<TokenAlg> {
        TokenAlg::ALL.into_iter().find(|a| a.id() == s)
    }
}

/// A configuration that passed [`Config::validate`], with its parsed values.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The raw values.
    pub raw: Config,
    /// `server.listen`.
    pub listen: SocketAddr,
    /// `admin.listen`.
    pub admin_listen: SocketAddr,
    /// `tokens.format` + `tokens.algorithm`.
    pub alg: TokenAlg,
    /// `(family, prefix)` of every family switched on.
    pub mounts: Vec<(&'static str, String)>,
    /// Things that work but are unwise (short TTLs, cheap scrypt), for the log.
    pub warnings: Vec<String>,
}

/// Loads the configuration: defaults, then `path` (or `./auth.toml` when `path` is `None`
/// and that file exists), then the environment.
pub fn load(path: Option<&Path>) -> Result<Checked, String> {
    let mut fig = Figment::from(Serialized::defaults(Config::default()));
    match path {
        Some(p) => {
            if !p.exists() {
                return Err(format!("config file {} does not exist", p.display()));
            }
            fig = fig.merge(Toml::file(p));
        }
        None => {
            if Path::new("auth.toml").exists() {
                fig = fig.merge(Toml::file("auth.toml"));
            }
        }
    }
    fig = fig.merge(Env::prefixed(ENV_PREFIX).split("__"));
    let raw: Config = fig.extract().map_err(|e| {
        e.into_iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    raw.validate()
}

fn bad(key: &str, why: impl std::fmt::Display) -> String {
    format!("invalid value for `{key}`: {why}")
}

impl Checked {
    /// The server key file: `storage.key_file`, or the store's path + `.key`.
    pub fn key_file(&self) -> PathBuf {
        if self.raw.storage.key_file.as_os_str().is_empty() {
            crate::secrets::default_path(&self.raw.storage.path)
        } else {
            self.raw.storage.key_file.clone()
        }
    }
}

impl Config {
    /// Checks every value for sense and parses addresses; the error names the key.
    pub fn validate(self) -> Result<Checked, String> {
        let mut warnings = Vec::new();
        let listen: SocketAddr = self
            .server
            .listen
            .parse()
            .map_err(|e| bad("server.listen", e))?;
        let admin_listen: SocketAddr = self
            .admin
            .listen
            .parse()
            .map_err(|e| bad("admin.listen", e))?;
        if !(self.server.public_url.starts_with("http://")
            || self.server.public_url.starts_with("https://"))
        {
            return Err(bad(
                "server.public_url",
                "must start with http:// or https://",
            ));
        }
        if !(1024..=16 * 1024 * 1024).contains(&self.server.max_body) {
            return Err(bad(
                "server.max_body",
                "must be between 1024 and 16777216 bytes",
            ));
        }
        if self.server.request_timeout == 0 {
            return Err(bad("server.request_timeout", "must be at least 1 second"));
        }
        if self.storage.path.as_os_str().is_empty() {
            return Err(bad("storage.path", "must not be empty"));
        }
        let alg = match (self.tokens.format.as_str(), self.tokens.algorithm.as_str()) {
            ("jwt", "EdDSA") => TokenAlg::JwtEdDsa,
            ("jwt", "ES256") => TokenAlg::JwtEs256,
            ("jwt", "HS256") => TokenAlg::JwtHs256,
            ("paseto", "v4.public") => TokenAlg::PasetoV4Public,
            ("paseto", "v4.local") => TokenAlg::PasetoV4Local,
            ("jwt", a) => {
                return Err(bad(
                    "tokens.algorithm",
                    format!("`{a}` is not one of EdDSA, ES256, HS256 (format jwt)"),
                ))
            }
            ("paseto", a) => {
                return Err(bad(
                    "tokens.algorithm",
                    format!("`{a}` is not one of v4.public, v4.local (format paseto)"),
                ))
            }
            (f, _) => {
                return Err(bad(
                    "tokens.format",
                    format!("`{f}` is not one of jwt, paseto"),
                ))
            }
        };
        if self.tokens.issuer.is_empty() {
            return Err(bad("tokens.issuer", "must not be empty"));
        }
        for (key, v) in [
            ("tokens.access_ttl", self.tokens.access_ttl),
            ("tokens.refresh_ttl", self.tokens.refresh_ttl),
            ("session.code_ttl", self.session.code_ttl),
            ("limits.lockout_window", self.limits.lockout_window),
            ("limits.lockout_duration", self.limits.lockout_duration),
        ] {
            if v == 0 {
                return Err(bad(key, "must be at least 1 second"));
            }
            if v > 10 * 365 * 86400 {
                return Err(bad(key, "must be at most ten years"));
            }
        }
        if self.tokens.access_ttl < 60 {
            warnings.push(format!(
                "tokens.access_ttl is only {} s",
                self.tokens.access_ttl
            ));
        }
        if self.tokens.refresh_ttl < self.tokens.access_ttl {
            warnings.push("tokens.refresh_ttl is shorter than tokens.access_ttl".into());
        }
        if self.tokens.reuse_interval > self.tokens.refresh_ttl {
            return Err(bad(
                "tokens.reuse_interval",
                "must not exceed tokens.refresh_ttl",
            ));
        }
        if self.tokens.reuse_interval > 300 {
            warnings.push("tokens.reuse_interval over 5 minutes weakens reuse detection".into());
        }
        let s = &self.password.scrypt;
        if let Err(e) = scrypt::Params::new(s.log_n, s.r, s.p, scrypt::Params::RECOMMENDED_LEN) {
            return Err(bad("password.scrypt", e));
        }
        if s.log_n > 22 || u64::from(s.r) * u64::from(s.p) > 64 {
            return Err(bad(
                "password.scrypt",
                "costs above log_n 22 or r*p 64 are refused",
            ));
        }
        if s.log_n < 14 {
            warnings.push(format!(
                "password.scrypt.log_n = {} is cheap; use 15 or more in production",
                s.log_n
            ));
        }
        if !(1..=1024).contains(&self.password.min_length) {
            return Err(bad("password.min_length", "must be between 1 and 1024"));
        }
        if !matches!(self.mail.transport.as_str(), "log" | "smtp") {
            return Err(bad("mail.transport", "must be `log` or `smtp`"));
        }
        if !matches!(
            self.mail.smtp.tls.as_str(),
            "none" | "starttls" | "implicit"
        ) {
            return Err(bad(
                "mail.smtp.tls",
                "must be `none`, `starttls` or `implicit`",
            ));
        }
        if !self
            .forward_auth
            .cookie
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            return Err(bad(
                "forward_auth.cookie",
                "must be a cookie name (a token of RFC 6265)",
            ));
        }
        if !matches!(self.log.format.as_str(), "auto" | "human" | "json") {
            return Err(bad("log.format", "must be `auto`, `human` or `json`"));
        }
        if self.mfa.issuer.is_empty() || self.mfa.issuer.contains(':') {
            return Err(bad("mfa.issuer", "must be non-empty and without `:`"));
        }
        if self.limits.mails_per_hour == 0 {
            return Err(bad("limits.mails_per_hour", "must be at least 1"));
        }
        if self.limits.lockout_failures == 0 {
            return Err(bad("limits.lockout_failures", "must be at least 1"));
        }
        for (i, c) in self.oauth.clients.iter().enumerate() {
            if c.id.is_empty() || c.id.contains(':') {
                return Err(bad(
                    &format!("oauth.clients[{i}].id"),
                    "must be non-empty and without `:`",
                ));
            }
            if c.secret.is_empty() {
                return Err(bad(
                    &format!("oauth.clients[{i}].secret"),
                    "must not be empty",
                ));
            }
            if c.secret == "change-me" {
                warnings.push(format!(
                    "oauth client `{}` still has the sample secret",
                    c.id
                ));
            }
        }
        for (i, r) in self.oauth.signup_roles.iter().enumerate() {
            if r.is_empty() {
                return Err(bad(
                    &format!("oauth.signup_roles[{i}]"),
                    "must not be empty",
                ));
            }
        }
        let mut mounts = Vec::new();
        for (name, m) in [
            ("session", &self.families.session),
            ("oauth", &self.families.oauth),
            ("toolkit", &self.families.toolkit),
            ("v0", &self.families.v0),
        ] {
            let prefix = match m {
                Mount::Switch(false) => continue,
                Mount::Switch(true) => match Families::default_mount(name) {
                    Some(p) => p,
                    None => continue,
                },
                Mount::At(p) if p.starts_with('/') && !p.contains(['?', '#', ' ']) => p.clone(),
                Mount::At(_) => {
                    return Err(bad(
                        &format!("families.{name}"),
                        "must be a path starting with `/`, or false",
                    ))
                }
            };
            // Families not implemented by this build are accepted in the file (so one
            // auth.toml serves every release) but cannot be mounted.
            if protocol::table::FAMILIES.iter().any(|f| f.name == name) {
                mounts.push((name, prefix));
            }
        }
        let pairs: Vec<(&str, &str)> = mounts.iter().map(|(n, p)| (*n, p.as_str())).collect();
        protocol::table::Table::new(&pairs, &self.server.public_url, self.password.min_length)
            .map_err(|e| bad("families", e))?;
        if !self.admin.token.is_empty() && admin_listen == listen && listen.port() != 0 {
            return Err(bad("admin.listen", "must differ from server.listen"));
        }
        if !self.admin.token.is_empty() && self.admin.token.len() < 16 {
            return Err(bad(
                "admin.token",
                "must be at least 16 characters (or empty: admin API off)",
            ));
        }
        Ok(Checked {
            raw: self,
            listen,
            admin_listen,
            alg,
            mounts,
            warnings,
        })
    }

    /// The configuration as TOML with every secret masked.
    pub fn masked_toml(&self) -> String {
        let mut c = self.clone();
        let mask = |s: &mut String| {
            if !s.is_empty() {
                *s = "********".into();
            }
        };
        mask(&mut c.mail.smtp.password);
        mask(&mut c.admin.token);
        for client in &mut c.oauth.clients {
            mask(&mut client.secret);
        }
        toml::to_string_pretty(&c).unwrap_or_else(|e| format!("# cannot print: {e}"))
    }
}

impl Families {
    fn default_mount(name: &str) -> Option<String> {
        protocol::table::FAMILIES
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.default_mount.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_auth_toml_parses_and_matches_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("auth.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let from_file: Config = toml::from_str(&text).unwrap();
        assert_eq!(
            from_file,
            Config::default(),
            "auth.toml documents the defaults"
        );
        from_file.validate().unwrap();
    }

    #[test]
    fn bad_values_name_their_key() {
        let mut c = Config::default();
        c.tokens.algorithm = "RS256".into();
        assert!(c.validate().unwrap_err().contains("tokens.algorithm"));
        let mut c = Config::default();
        c.server.listen = "nope".into();
        assert!(c.validate().unwrap_err().contains("server.listen"));
        let mut c = Config::default();
        c.password.scrypt.r = 0;
        assert!(c.validate().unwrap_err().contains("password.scrypt"));
        let err = toml::from_str::<Config>("[server]\nlisten_at = 1\n").unwrap_err();
        assert!(err.to_string().contains("listen_at"));
    }

    #[test]
    fn masks_secrets() {
        let mut c = Config::default();
        c.admin.token = "a-very-secret-admin-token".into();
        let t = c.masked_toml();
        assert!(!t.contains("change-me") && !t.contains("a-very-secret"));
        assert!(t.contains("********"));
    }
}
