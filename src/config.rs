//! Configuration: defaults < `auth.toml` < `LATCHKEY_<SECTION>__<KEY>` environment
//! variables, read with figment into [`Config`] (every key of the contract, unknown keys
//! refused), then checked for sense by [`Config::validate`], which names the key at fault.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

pub use crate::net::Cidr;
use crate::signer::TokenAlg;

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
        /// Proxies whose `X-Forwarded-For` is believed (addresses or CIDR ranges).
        trusted_proxies: Vec<String> = Vec::new(),
        /// Seconds a request head may take to arrive, from its first byte.
        header_timeout: u64 = 10,
        /// Seconds a connection may stay silent before it is closed.
        idle_timeout: u64 = 60,
        /// Connections open at once; further ones wait in the kernel's backlog.
        max_connections: usize = 10_000,
        /// Connections one source (an IPv4 address, an IPv6 /64) may hold open at once,
        /// trusted proxies excepted; 0: a sixteenth of `max_connections`, at least 16.
        max_connections_per_source: usize = 0,
    }
);

section!(
    /// `[storage]`
    Storage {
        /// `redb` (one file, one server) or `postgres` (several servers on one database).
        backend: String = "redb".into(),
        /// Path of the redb file.
        path: PathBuf = PathBuf::from("latchkey.redb"),
        /// PostgreSQL: `postgres://user:password@host:port/db?sslmode=verify-full`.
        url: String = String::new(),
        /// PostgreSQL: connections of this server to the database.
        pool_size: usize = 16,
        /// The server key file (session-code MACs, TOTP secret sealing); empty: the
        /// store's path + `.key`. Kept out of the store on purpose.
        key_file: PathBuf = PathBuf::new(),
        /// Where `POST /admin/backup` may write (the directory or below); empty: the
        /// directory of `path`.
        backup_dir: PathBuf = PathBuf::new(),
        /// MiB of the redb file a server keeps in memory (redb's page cache).
        cache_size: usize = 16,
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
        /// Seconds between two looks at the signing keys in the store (keys made or
        /// revoked by another server sharing it).
        key_poll: u64 = 10,
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
    /// `password.import_limits`: the most an imported password hash may ask for, checked
    /// at import and at every verification.
    ImportLimits {
        /// Memory of one verification (argon2 `m`; scrypt and Firebase 128·r·N), KiB.
        memory_kib: u64 = 131_072,
        /// argon2 passes (`t`).
        argon2_passes: u32 = 10,
        /// argon2 lanes, scrypt `p`.
        parallelism: u32 = 4,
        /// bcrypt cost (log2 of the rounds).
        bcrypt_cost: u32 = 14,
        /// PBKDF2 iterations.
        pbkdf2_rounds: u32 = 2_000_000,
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
        /// Bounds on imported hashes.
        import_limits: ImportLimits = ImportLimits::default(),
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
        /// Failed attempts of one source against one account within `lockout_window`
        /// that lock that source out of that account.
        lockout_failures: u32 = 10,
        /// Failed attempts against one account from all sources within `lockout_window`
        /// after which only sources that signed in to it before may try.
        lockout_failures_total: u32 = 100,
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

/// `[families]`: the mount point of each route family of the adapter table, by name.
/// Defaults come from the table itself (`protocol::families::FAMILIES`).
pub type Families = std::collections::BTreeMap<String, Mount>;

fn default_families() -> Families {
    protocol::families::FAMILIES
        .iter()
        .map(|f| (f.name.to_owned(), Mount::At(f.default_mount.to_owned())))
        .collect()
}

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
        /// Roles a user may pick at sign-up (any other is given by an administrator).
        signup_roles: Vec<String> = vec!["user".into()],
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
    /// `[portal]`
    Portal {
        /// Where the sign-in pages live (`/ui`); `false` switches the portal off.
        path: Mount = Mount::At("/ui".into()),
        /// Lifetime of a portal session, seconds; renewed while it is used.
        session_ttl: u64 = 43_200,
        /// Domain of the session cookie (`example.com`: every subdomain shares the
        /// sign-in); empty: the public URL's host only.
        cookie_domain: String = String::new(),
        /// The name the pages show (in their title too) and mails carry in their subject.
        /// `product_name`, its former name, is read as well.
        #[serde(alias = "product_name")]
        title: String = "latchkey".into(),
        /// A logo file latchkey serves itself (PNG, SVG, JPEG or WebP; 256 KiB at most);
        /// empty: none.
        logo: PathBuf = PathBuf::new(),
        /// A logo elsewhere (an https URL or a path on this server); empty: none.
        logo_url: String = String::new(),
        /// The pages' accent (buttons, links), `#rrggbb`; empty: latchkey's blue. White
        /// text on it must read (contrast 4.5:1 at least).
        accent_color: String = String::new(),
        /// A link at the foot of every page (privacy, imprint): its text...
        footer_text: String = String::new(),
        /// ...and where it goes (an https URL or a path); both or neither.
        footer_url: String = String::new(),
        /// A "Create an account" page (shown only while `session.allow_signup` is on too).
        signup: bool = true,
        /// The language of pages and mails when the browser asks for none of latchkey's
        /// (`en`, `de`, `fr`); a visitor may choose another on every page.
        default_language: String = "en".into(),
    }
);

section!(
    /// One `[[oidc.clients]]` entry.
    OidcClient {
        /// Client id.
        id: String = String::new(),
        /// Client secret; empty: a public client (PKCE required).
        secret: String = String::new(),
        /// Where codes may be sent: exact URLs, no wildcards.
        redirect_uris: Vec<String> = Vec::new(),
        /// The name the consent page shows.
        name: String = String::new(),
        /// Ask the person before the first sign-in to it (third-party apps).
        consent: bool = false,
        /// `RS256` (the default, what every OIDC library takes), `ES256` or `EdDSA`.
        id_token_alg: String = "RS256".into(),
        /// Where RP-initiated logout may send the browser.
        post_logout_redirect_uris: Vec<String> = Vec::new(),
        /// Origins of browser apps that call the token, userinfo and revocation
        /// endpoints themselves (CORS), besides those of `redirect_uris`.
        allowed_origins: Vec<String> = Vec::new(),
        /// Only members of these groups may sign in to it (absent: every active user).
        allowed_groups: Option<Vec<String>> = None,
        /// Sign-ins to it need two factors (a one-factor session is asked for a second).
        require_mfa: bool = false,
    }
);

section!(
    /// `[access]`: who may reach which app behind forward-auth.
    Access {
        /// When no rule matches: `deny`, `one_factor` (the default: any signed-in user, as
        /// before rules existed) or `two_factor`.
        default_policy: String = "one_factor".into(),
        /// Read top to bottom; the first that matches decides.
        rules: Vec<AccessRule> = Vec::new(),
    }
);

section!(
    /// One `[[access.rules]]` entry: every field it has must match.
    AccessRule {
        /// Hosts: exact, or `*.example.com` (its subdomains).
        domain: Option<Vec<String>> = None,
        /// Regexes over the path and query.
        resources: Option<Vec<String>> = None,
        /// Methods.
        methods: Option<Vec<String>> = None,
        /// Client addresses or CIDR ranges (after `server.trusted_proxies`).
        networks: Option<Vec<String>> = None,
        /// `group:NAME` or `user:EMAIL|USERNAME|ID`: any one of them.
        subject: Option<Vec<String>> = None,
        /// `bypass`, `deny`, `one_factor` or `two_factor`.
        policy: String = String::new(),
    }
);

section!(
    /// `[oidc]`
    Oidc {
        /// The relying parties (apps) that may sign people in.
        clients: Vec<OidcClient> = Vec::new(),
    }
);

/// One `[[upstream]]` entry: an OpenID Provider people may sign in through. Not made
/// by `section!`: its `Debug` leaves the secret out.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Upstream {
    /// `[a-z0-9-]`, 1 to 32: in the URLs of the sign-in.
    pub id: String,
    /// The button's label; empty: the id.
    pub name: String,
    /// Its issuer: discovery is at issuer + `/.well-known/openid-configuration`.
    pub issuer: String,
    /// latchkey's client id there.
    pub client_id: String,
    /// latchkey's client secret there...
    pub client_secret: String,
    /// ...or the file that holds it (one or the other).
    pub client_secret_file: PathBuf,
    /// What to ask for (`openid` among them).
    pub scopes: Vec<String>,
    /// `verified_email`: an identity whose upstream email is verified signs in the
    /// account that has proven the same address here; `none`: linked only from the
    /// account page.
    pub link: String,
    /// An identity no account has gets a new account.
    pub signup: bool,
    /// The upstream's `amr` `mfa` counts as the second factor.
    pub trust_mfa: bool,
    /// A claim naming groups: the account's memberships of those that exist here follow
    /// it at each sign-in. Empty: none.
    pub groups_claim: String,
    /// PEM file of the CA that signs the upstream's certificate (a private SSO), trusted
    /// besides the platform's roots.
    pub ca_file: PathBuf,
}

impl Default for Upstream {
    fn default() -> Self {
        Upstream {
            id: String::new(),
            name: String::new(),
            issuer: String::new(),
            client_id: String::new(),
            client_secret: String::new(),
            client_secret_file: PathBuf::new(),
            scopes: vec!["openid".into(), "email".into(), "profile".into()],
            link: "verified_email".into(),
            signup: false,
            trust_mfa: false,
            groups_claim: String::new(),
            ca_file: PathBuf::new(),
        }
    }
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream")
            .field("id", &self.id)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

section!(
    /// `[passkeys]`
    Passkeys {
        /// Sign-in with passkeys (WebAuthn); needs a public URL with a domain name.
        enabled: bool = true,
        /// The relying party id; empty: the public URL's host.
        rp_id: String = String::new(),
        /// Further origins passkeys may be used from (the public URL's always may).
        origins: Vec<String> = Vec::new(),
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
        /// The group whose members (signed in with two factors) use the admin pages
        /// (`/ui/admin`); empty: no admin pages.
        ui_group: String = "admins".into(),
    }
);

section!(
    /// `[audit]`: the audit log in the store.
    Audit {
        /// Write security events to the store (read with `latchkey audit`).
        enabled: bool = true,
        /// How long events are kept, seconds (90 days).
        retention: u64 = 7_776_000,
    }
);

/// One `[[webhooks]]` entry (not made by `section!`: its `Debug` leaves the secret out).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Webhook {
    /// Where messages are POSTed.
    pub url: String,
    /// `whsec_` + base64 of the signing key (Standard Webhooks).
    pub secret: String,
    /// The types it receives (`user.created`, `session.signed_in`, `audit.sign_in`, ...).
    pub events: Vec<String>,
    /// Seconds to wait before each retry of a message that failed.
    pub retry_schedule: Vec<u64>,
}

impl Default for Webhook {
    fn default() -> Self {
        Webhook {
            url: String::new(),
            secret: String::new(),
            events: Vec::new(),
            retry_schedule: vec![5, 300, 1800, 7200, 18000, 36000],
        }
    }
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

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
        families: Families = default_families(),
        /// `[oauth]`
        oauth: OAuth = OAuth::default(),
        /// `[admin]`
        admin: Admin = Admin::default(),
        /// `[log]`
        log: Log = Log::default(),
        /// `[forward_auth]`
        forward_auth: ForwardAuth = ForwardAuth::default(),
        /// `[portal]`
        portal: Portal = Portal::default(),
        /// `[oidc]`
        oidc: Oidc = Oidc::default(),
        /// `[passkeys]`
        passkeys: Passkeys = Passkeys::default(),
        /// `[access]`
        access: Access = Access::default(),
        /// `[[upstream]]`
        upstream: Vec<Upstream> = Vec::new(),
        /// `[audit]`
        audit: Audit = Audit::default(),
        /// `[[webhooks]]`
        webhooks: Vec<Webhook> = Vec::new(),
    }
);

/// `[mail] transport` with what it needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MailTransport {
    /// Messages are written to the log (the shipped default: nothing leaves the machine).
    Log,
    /// Messages go to an SMTP server.
    Smtp(SmtpSettings),
}

/// `mail.smtp.tls`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP.
    None,
    /// STARTTLS after connecting.
    StartTls,
    /// TLS from the first byte (port 465).
    Implicit,
}

/// `mail.smtp`, checked.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpSettings {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS mode.
    pub tls: SmtpTls,
    /// User name and password, when the server wants authentication.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("credentials", &self.credentials.as_ref().map(|(u, _)| u))
            .finish()
    }
}

/// `[log] format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human on a terminal, JSON lines otherwise.
    Auto,
    /// Always human.
    Human,
    /// Always JSON lines.
    Json,
}

/// `[server]`, checked.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// The public listener's address.
    pub listen: SocketAddr,
    /// The public base URL, without a trailing slash.
    pub public_url: String,
    /// Largest accepted request body, bytes.
    pub max_body: u64,
    /// Longest a request may take.
    pub request_timeout: Duration,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<Cidr>,
    /// A request head must arrive within this of its first byte.
    pub header_timeout: Duration,
    /// A silent connection is closed after this.
    pub idle_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
    /// Connections one source may hold open at once (trusted proxies excepted).
    pub max_connections_per_source: usize,
}

/// `[storage]`, checked.
#[derive(Debug, Clone)]
pub struct StorageSettings {
    /// Where the data is.
    pub backend: StoreBackend,
    /// The redb file (also where the command line finds a local server's admin address).
    pub path: PathBuf,
    /// The server key file (`storage.key_file`, or the store's path + `.key`).
    pub key_file: PathBuf,
    /// Where the admin API's backups may go (`storage.backup_dir`, or the directory of
    /// the store's file).
    pub backup_dir: PathBuf,
    /// Bytes of redb's page cache in a server (`storage.cache_size` MiB).
    pub cache_bytes: usize,
}

/// `storage.backend`, checked.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreBackend {
    /// One redb file (`storage.path`).
    Redb,
    /// A PostgreSQL database.
    Postgres {
        /// `storage.url` (it may hold a password: never shown).
        url: String,
        /// `storage.pool_size`.
        pool_size: usize,
    },
}

impl std::fmt::Debug for StoreBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreBackend::Redb => f.write_str("Redb"),
            StoreBackend::Postgres { pool_size, .. } => f
                .debug_struct("Postgres")
                .field("pool_size", pool_size)
                .finish_non_exhaustive(),
        }
    }
}

/// `[tokens]`, checked.
#[derive(Debug, Clone)]
pub struct TokenSettings {
    /// Format and algorithm of access tokens.
    pub alg: TokenAlg,
    /// `iss` of every token.
    pub issuer: String,
    /// Access-token lifetime.
    pub access_ttl: Duration,
    /// Refresh-token lifetime.
    pub refresh_ttl: Duration,
    /// How long a spent refresh token is tolerated.
    pub reuse_interval: Duration,
    /// Verified access tokens remembered; 0 = off.
    pub cache_size: usize,
    /// How often the signing keys are looked at again in the store.
    pub key_poll: Duration,
}

impl TokenSettings {
    /// How long a retired signing key still verifies, seconds: every token it signed
    /// lives `access_ttl`, and another server may sign with it for up to `key_poll`
    /// after the rotation before it looks again.
    pub fn key_window_secs(&self) -> i64 {
        let secs = |d: Duration| i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4);
        secs(self.access_ttl).saturating_add(secs(self.key_poll))
    }
}

/// `[password]`, checked.
#[derive(Debug, Clone)]
pub struct PasswordSettings {
    /// Shortest accepted password, characters.
    pub min_length: usize,
    /// scrypt parameters for new hashes.
    pub scrypt: Scrypt,
    /// Hashes computed at once (`0` in the file is resolved to the number of cores).
    pub hash_threads: usize,
    /// Requests that may wait for a hashing thread.
    pub hash_queue: usize,
    /// Bounds on imported hashes.
    pub import_limits: ImportLimits,
}

/// `[mail]`, checked.
#[derive(Debug, Clone)]
pub struct MailSettings {
    /// Where messages go.
    pub transport: MailTransport,
    /// Display name of the sender (may be empty).
    pub from_name: String,
    /// Address of the sender.
    pub from_address: String,
    /// Longest one delivery may take.
    pub timeout: Duration,
}

/// `[session]`, checked.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// Session-code lifetime.
    pub code_ttl: Duration,
    /// The first redemption of a code for an unknown address creates the account.
    pub allow_signup: bool,
    /// A new code for an address spends the ones mailed to it before.
    pub invalidate_previous: bool,
}

/// `[limits]`, checked.
#[derive(Debug, Clone)]
pub struct LimitSettings {
    /// Token bucket per client IP over the credential routes; 0 = off.
    pub per_ip_per_minute: u32,
    /// Failures of one source against one account within `lockout_window` that lock.
    pub lockout_failures: u32,
    /// Failures against one account from all sources within `lockout_window` that close
    /// it to unknown sources.
    pub lockout_failures_total: u32,
    /// Window for counting failures.
    pub lockout_window: Duration,
    /// How long a lock lasts.
    pub lockout_duration: Duration,
    /// Codes mailed to one address per hour.
    pub mails_per_hour: u32,
}

/// `[oauth]`, checked.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// Roles a user may pick at sign-up.
    pub signup_roles: Vec<String>,
    /// Clients allowed on the token, introspection and revocation endpoints.
    pub clients: Vec<Client>,
}

/// `[admin]`, checked.
#[derive(Clone)]
pub struct AdminSettings {
    /// The admin listener's address.
    pub listen: SocketAddr,
    /// The admin API's bearer token; `None`: the admin API is off.
    pub token: Option<String>,
    /// The group of the admin pages' users; `None`: no admin pages.
    pub ui_group: Option<String>,
}

impl std::fmt::Debug for AdminSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminSettings")
            .field("listen", &self.listen)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// `[portal]`, checked.
#[derive(Debug, Clone)]
pub struct PortalSettings {
    /// Path prefix of the pages (`/ui`), without a trailing slash.
    pub path: String,
    /// Lifetime of a session, renewed while it is used.
    pub session_ttl: Duration,
    /// `Domain=` of the session cookie, lowercase; `None`: host-only.
    pub cookie_domain: Option<String>,
    /// Whether cookies are `Secure` (the public URL is https).
    pub secure: bool,
    /// The public URL's host (lowercase), the one host `rd` may always name.
    pub public_host: String,
    /// The public URL's origin (`https://auth.example.com`), what same-origin forms send.
    pub public_origin: String,
    /// The name the pages show (and mail subjects carry).
    pub title: String,
    /// The logo's URL, if any (`<path>/logo` for a file latchkey serves).
    pub logo_url: Option<String>,
    /// The logo file latchkey serves: its bytes and content type.
    pub logo: Option<(Vec<u8>, &'static str)>,
    /// The accent, `#rrggbb`, if not the default.
    pub accent: Option<String>,
    /// The footer's link: (text, URL).
    pub footer: Option<(String, String)>,
    /// Whether the "Create an account" page is on (`portal.signup` and
    /// `session.allow_signup`).
    pub signup: bool,
}

/// `[passkeys]`, checked.
#[derive(Debug, Clone)]
pub struct PasskeySettings {
    /// The relying party id (a domain: the public URL's host or one above it).
    pub rp_id: String,
    /// The origins ceremonies may come from: the public URL's first.
    pub origins: Vec<url::Url>,
    /// The name authenticators show.
    pub rp_name: String,
}

/// One OpenID Connect client, checked.
#[derive(Clone)]
pub struct OidcClientSettings {
    /// Client id.
    pub id: String,
    /// SHA-256 of the secret; `None`: a public client.
    pub secret_hash: Option<[u8; 32]>,
    /// Exact redirect URIs.
    pub redirect_uris: Vec<String>,
    /// The name pages show.
    pub name: String,
    /// Whether the person is asked first.
    pub consent: bool,
    /// The id token's algorithm.
    pub id_token_alg: crate::signer::idtoken::IdAlg,
    /// Where logout may send the browser.
    pub post_logout_redirect_uris: Vec<String>,
    /// Origins (`scheme://host[:port]`, as browsers send them) that may call the token,
    /// userinfo and revocation endpoints from a page: those of the redirect URIs (http
    /// and https ones) and `allowed_origins`.
    pub origins: Vec<String>,
    /// Only members of these groups may sign in (lowered names); `None`: everyone.
    pub allowed_groups: Option<Vec<String>>,
    /// Sign-ins to it need two factors.
    pub require_mfa: bool,
}

impl protocol::oidc::Client for OidcClientSettings {
    fn id(&self) -> &str {
        &self.id
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn redirect_uris(&self) -> &[String] {
        &self.redirect_uris
    }
    fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }
}

impl std::fmt::Debug for OidcClientSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcClientSettings")
            .field("id", &self.id)
            .field("public", &self.secret_hash.is_none())
            .field("redirect_uris", &self.redirect_uris)
            .finish_non_exhaustive()
    }
}

impl Checked {
    /// The id-token algorithms some client uses (RS256 always, once there is a client):
    /// each needs a key that signs.
    pub fn id_token_algs(&self) -> Vec<crate::signer::idtoken::IdAlg> {
        let mut algs: Vec<_> = self.oidc_clients.iter().map(|c| c.id_token_alg).collect();
        if !algs.is_empty() {
            algs.push(crate::signer::idtoken::IdAlg::Rs256);
        }
        algs.sort();
        algs.dedup();
        algs
    }

    /// The OpenID Connect client `id`.
    pub fn oidc_client(&self, id: &str) -> Option<&OidcClientSettings> {
        self.oidc_clients.iter().find(|c| c.id == id)
    }
}

/// `[audit]`, checked.
#[derive(Debug, Clone, Copy)]
pub struct AuditSettings {
    /// Events are written to the store.
    pub enabled: bool,
    /// How long they are kept.
    pub retention: Duration,
}

/// One `[[webhooks]]`, checked.
#[derive(Clone)]
pub struct WebhookSettings {
    /// Its id: hex of the first 8 bytes of the SHA-256 of its URL.
    pub id: String,
    /// Where messages go.
    pub url: url::Url,
    /// The signing key (decoded).
    pub key: Vec<u8>,
    /// The types it receives.
    pub events: Vec<String>,
    /// The waits before each retry.
    pub retry_schedule: Vec<Duration>,
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &self.url.as_str())
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

impl WebhookSettings {
    /// Whether it receives messages of `kind`.
    pub fn wants(&self, kind: &str) -> bool {
        self.events.iter().any(|e| e == kind)
    }
}

/// The webhook types besides `audit.<event>`.
pub const WEBHOOK_TYPES: [&str; 9] = [
    "user.created",
    "user.updated",
    "user.deleted",
    "user.disabled",
    "user.enabled",
    "session.signed_in",
    "session.signed_out",
    "group.member_added",
    "group.member_removed",
];

/// The audit events (API.md Part 3 details, "Audit events").
/// Besides the contract's, `role_changed` (an administrator set a role).
pub const AUDIT_EVENTS: [&str; 29] = [
    "sign_in",
    "sign_in_failed",
    "sign_out",
    "mfa_enabled",
    "mfa_disabled",
    "mfa_reset",
    "passkey_added",
    "passkey_removed",
    "password_changed",
    "password_reset",
    "email_proven",
    "email_changed",
    "account_cleaned",
    "family_revoked",
    "signed_out_everywhere",
    "user_created",
    "user_disabled",
    "user_enabled",
    "user_blocked",
    "user_unblocked",
    "user_deleted",
    "group_created",
    "group_deleted",
    "group_member_added",
    "group_member_removed",
    "access_denied",
    "upstream_linked",
    "upstream_unlinked",
    "role_changed",
];

/// How an upstream identity may find the account it signs in, besides a link made from
/// the account page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRule {
    /// By an email the upstream says is verified, which the account has proven here.
    VerifiedEmail,
    /// Never: only from the account page.
    None,
}

/// One `[[upstream]]`, checked.
#[derive(Clone)]
pub struct UpstreamSettings {
    /// Its id (in URLs).
    pub id: String,
    /// The button's label.
    pub name: String,
    /// The issuer, exactly as the id tokens must name it.
    pub issuer: String,
    /// latchkey's client id there.
    pub client_id: String,
    /// latchkey's client secret there (read from the file when given so).
    pub client_secret: protocol::Secret,
    /// The scopes asked for (`openid` first).
    pub scopes: Vec<String>,
    /// How an identity finds its account.
    pub link: LinkRule,
    /// Strangers get an account.
    pub signup: bool,
    /// The upstream's `mfa` counts as the second factor.
    pub trust_mfa: bool,
    /// The claim naming groups, if any.
    pub groups_claim: Option<String>,
    /// A CA certificate file trusted besides the platform's roots.
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for UpstreamSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpstreamSettings")
            .field("id", &self.id)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("link", &self.link)
            .field("signup", &self.signup)
            .finish_non_exhaustive()
    }
}

/// A configuration that passed [`Config::validate`]: every value parsed into the type it
/// stands for. Nothing outside this module reads the raw file values.
#[derive(Debug, Clone)]
pub struct Checked {
    raw: Config,
    /// `[server]`
    pub server: ServerSettings,
    /// `[storage]`
    pub storage: StorageSettings,
    /// `[tokens]`
    pub tokens: TokenSettings,
    /// `[password]`
    pub password: PasswordSettings,
    /// `[mail]`
    pub mail: MailSettings,
    /// `[session]`
    pub session: SessionSettings,
    /// `mfa.issuer`: the issuer authenticator apps show.
    pub mfa_issuer: String,
    /// `portal.default_language`: of pages and mails when the reader asks for none of
    /// the catalogs' languages (mails follow it with the portal off, too).
    pub language: crate::i18n::Lang,
    /// `[limits]`
    pub limits: LimitSettings,
    /// `(family, prefix)` of every family switched on.
    pub mounts: Vec<(&'static str, String)>,
    /// `[oauth]`
    pub oauth: OAuthSettings,
    /// `[admin]`
    pub admin: AdminSettings,
    /// `forward_auth.cookie`: a cookie that may carry the access token; `None`: header only.
    pub forward_auth_cookie: Option<String>,
    /// `[portal]`; `None`: switched off.
    pub portal: Option<PortalSettings>,
    /// `[[oidc.clients]]`, checked; empty: no OpenID Connect.
    pub oidc_clients: Vec<OidcClientSettings>,
    /// `[passkeys]`; `None`: switched off.
    pub passkeys: Option<PasskeySettings>,
    /// `[access]`: the rules forward-auth decides by.
    pub access: crate::access::Rules,
    /// `[[upstream]]`: the providers people may sign in through.
    pub upstreams: Vec<UpstreamSettings>,
    /// `[audit]`
    pub audit: AuditSettings,
    /// `[[webhooks]]`
    pub webhooks: Vec<WebhookSettings>,
    /// `log.format`
    pub log_format: LogFormat,
    /// Things that work but are unwise (short TTLs, cheap scrypt), for the log.
    pub warnings: Vec<String>,
}

/// Loads the configuration: defaults, then `path` (or `./auth.toml` when `path` is `None`
/// and that file exists), then the environment.
pub fn load(path: Option<&Path>) -> Result<Checked, ConfigErrors> {
    let mut fig = Figment::from(Serialized::defaults(Config::default()));
    let file = match path {
        Some(p) => {
            if !p.exists() {
                return Err(ConfigError {
                    key: String::new(),
                    place: Place::File(p.to_path_buf(), None),
                    why: "no such file; name an existing file with --config, or leave it out \
                          to read ./auth.toml (or only the defaults and the environment)"
                        .into(),
                }
                .into());
            }
            Some(p.to_path_buf())
        }
        None => Some(PathBuf::from("auth.toml")).filter(|p| p.exists()),
    };
    if let Some(f) = &file {
        fig = fig.merge(Toml::file(f));
    }
    fig = fig.merge(Env::prefixed(ENV_PREFIX).split("__"));
    let where_ = Locator::new(file.as_deref());
    let raw: Config = fig
        .extract()
        .map_err(|e| ConfigErrors(e.into_iter().map(|e| where_.explain(&e)).collect()))?;
    raw.validate().map_err(|e| where_.locate(e).into())
}

/// Says where a key of the configuration was set: `auth.toml:12`, or the environment
/// variable, for the operator's messages.
struct Locator {
    file: Option<(PathBuf, String)>,
}

/// Keys whose values are durations in seconds.
fn is_duration(key: &str) -> bool {
    ["_ttl", "_timeout", "_window", "_duration", "reuse_interval"]
        .iter()
        .any(|end| key.ends_with(end))
}

impl Locator {
    fn new(file: Option<&Path>) -> Locator {
        Locator {
            file: file.and_then(|f| Some((f.to_path_buf(), std::fs::read_to_string(f).ok()?))),
        }
    }

    /// The line of the file that sets `key`: `name = ...` in its section, or the section's
    /// own header (`[section]`, `[section.table]`) when the key is a section.
    fn line_of(&self, key: &str) -> Option<usize> {
        let (_, text) = self.file.as_ref()?;
        let header = |t: &str| -> Option<String> {
            let h = t.strip_prefix('[')?;
            Some(h.trim_matches(|c| c == '[' || c == ']').trim().to_string())
        };
        for (i, line) in text.lines().enumerate() {
            if header(line.trim()).is_some_and(|h| h == key) {
                return Some(i + 1);
            }
        }
        // An entry of an array of tables (`oidc.clients[1].id`): its field in the
        // entry's block, or the entry's `[[...]]` line.
        if let Some((array, rest)) = key.split_once('[') {
            let (index, after) = rest.split_once(']')?;
            let index: usize = index.parse().ok()?;
            let field = after
                .strip_prefix('.')
                .map(|f| f.split(['.', '[']).next().unwrap_or(f));
            let (mut seen, mut start) = (0, None);
            for (i, line) in text.lines().enumerate() {
                let t = line.trim();
                if let Some(h) = header(t) {
                    if start.is_some() {
                        break;
                    }
                    if t.starts_with("[[") && h == array {
                        if seen == index {
                            start = Some(i + 1);
                        }
                        seen += 1;
                    }
                    continue;
                }
                let assigned = |name: &str| {
                    t.split_once('=')
                        .is_some_and(|(k, _)| k.trim().trim_matches('"') == name)
                };
                if start.is_some() && field.is_some_and(assigned) {
                    return Some(i + 1);
                }
            }
            return start;
        }
        let parts: Vec<&str> = key.split('.').collect();
        for cut in (0..parts.len()).rev() {
            let (section, rest) = parts.split_at(cut);
            let section = section.join(".");
            let name = rest.first()?;
            let mut current = String::new();
            for (i, line) in text.lines().enumerate() {
                let t = line.trim();
                if let Some(h) = header(t) {
                    current = h;
                    continue;
                }
                let assigned = t
                    .split_once('=')
                    .is_some_and(|(k, _)| k.trim().trim_matches('"') == *name);
                if current == section && assigned {
                    return Some(i + 1);
                }
            }
        }
        None
    }

    /// The environment variable that set `key` (or something below it, for a section),
    /// by its real name.
    fn env_var_of(key: &str) -> Option<String> {
        std::env::vars_os().find_map(|(name, _)| {
            let name = name.into_string().ok()?;
            let path = name
                .strip_prefix(ENV_PREFIX)?
                .to_lowercase()
                .replace("__", ".");
            (path == key || path.starts_with(&format!("{key}."))).then_some(name)
        })
    }

    /// Where `key` was set: the environment variable when `from_env` (or when one names
    /// it), else the file's line.
    fn place(&self, key: &str, from_env: bool) -> Place {
        if let Some(var) = Self::env_var_of(key).filter(|_| from_env || !key.is_empty()) {
            if from_env || self.line_of(key).is_none() {
                return Place::Env(var);
            }
        }
        match &self.file {
            Some((path, _)) => Place::File(path.clone(), self.line_of(key)),
            None => Place::Unknown,
        }
    }

    /// A validation error with where its key was set.
    fn locate(&self, mut e: ConfigError) -> ConfigError {
        if !e.key.is_empty() && !e.key.contains(' ') {
            e.place = self.place(&e.key, false);
        }
        e
    }

    /// figment's error in the operator's words: the key (without figment's `default.`
    /// profile), where it was set, what it should be and what it is.
    fn explain(&self, e: &figment::Error) -> ConfigError {
        use figment::error::{Actual, Kind};
        let key = e.path.join(".");
        let from_env = e
            .metadata
            .as_ref()
            .is_some_and(|m| m.name.contains("environment"));
        let got = |a: &Actual| match a {
            Actual::Str(v) => format!("{v:?}"),
            Actual::Unsigned(v) => v.to_string(),
            Actual::Signed(v) => v.to_string(),
            Actual::Float(v) => v.to_string(),
            Actual::Bool(v) => v.to_string(),
            Actual::Seq => "a list".into(),
            Actual::Map => "a table".into(),
            other => other.to_string(),
        };
        let wanted = |expected: &str| {
            let e = expected.trim_start_matches("a ").trim_start_matches("an ");
            match e {
                "u8" | "u16" | "u32" | "u64" | "usize" | "i64" if is_duration(&key) => {
                    "an integer number of seconds".to_string()
                }
                "u8" | "u16" | "u32" | "u64" | "usize" | "i64" => "a whole number".into(),
                "bool" | "boolean" => "true or false".into(),
                "string" => "a string in quotes".into(),
                "sequence" => "a list, such as [\"a\", \"b\"]".into(),
                _ => expected.to_string(),
            }
        };
        match &e.kind {
            Kind::InvalidType(actual, expected) | Kind::InvalidValue(actual, expected) => {
                ConfigError {
                    place: self.place(&key, from_env),
                    why: format!("got {}; write {}", got(actual), wanted(expected)),
                    key,
                }
            }
            Kind::UnknownField(field, expected) => {
                // figment's path already ends with the field.
                let full = if key == *field || key.ends_with(&format!(".{field}")) {
                    key.clone()
                } else if key.is_empty() {
                    field.clone()
                } else {
                    format!("{key}.{field}")
                };
                let what = if full.contains('.') { "key" } else { "section" };
                let hint = expected
                    .iter()
                    .map(|c| (strsim::levenshtein(field, c), *c))
                    .filter(|(d, _)| *d <= 3)
                    .min()
                    .map(|(_, c)| format!("; did you mean `{c}`?"))
                    .unwrap_or_else(|| format!("; known {what}s here: {}", expected.join(", ")));
                ConfigError {
                    place: self.place(&full, from_env),
                    why: format!("unknown {what}{hint}"),
                    key: full,
                }
            }
            Kind::Message(m) if m.contains("untagged enum Mount") => ConfigError {
                place: self.place(&key, from_env),
                why: "write a path starting with `/`, or false".into(),
                key,
            },
            Kind::Message(m) if m.starts_with("TOML parse error at line ") => {
                // `TOML parse error at line L, column C`, the line shown, and what is
                // wrong: the file and line first, like every other error.
                let (head, rest) = m.split_once('\n').unwrap_or((m.as_str(), ""));
                let line = head
                    .trim_start_matches("TOML parse error at line ")
                    .split(',')
                    .next()
                    .and_then(|n| n.trim().parse().ok());
                let column = head.rsplit("column ").next().unwrap_or("?");
                let what: Vec<&str> = rest
                    .lines()
                    .filter(|l| {
                        !l.trim_start()
                            .starts_with(|c: char| c == '|' || c.is_ascii_digit())
                    })
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect();
                ConfigError {
                    place: match &self.file {
                        Some((path, _)) => Place::File(path.clone(), line),
                        None => Place::Unknown,
                    },
                    why: format!(
                        "not valid TOML (column {column}): {}; see https://toml.io for the syntax",
                        what.join("; ")
                    ),
                    key: String::new(),
                }
            }
            Kind::Message(m) => ConfigError {
                place: self.place(&key, from_env),
                why: m.clone(),
                key,
            },
            other => ConfigError {
                place: self.place(&key, from_env),
                why: other.to_string(),
                key,
            },
        }
    }
}

/// Where a key of the configuration was set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// In the file, at this line when it can be told.
    File(PathBuf, Option<usize>),
    /// In this environment variable.
    Env(String),
    /// Nowhere that can be told (a default, or a rule between keys).
    Unknown,
}

/// What is wrong with one key of the configuration: where it was set, the key, and what
/// is wrong with what to write instead. Printed as `FILE:LINE: KEY: what is wrong; what
/// to write instead` (or `environment variable NAME: KEY: ...`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The key (`server.listen`); empty when the error is not about one (a TOML syntax
    /// error).
    pub key: String,
    /// Where it was set.
    pub place: Place,
    /// What is wrong, and what would be right.
    pub why: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.place {
            Place::File(path, Some(line)) => write!(f, "{}:{line}: ", path.display())?,
            Place::File(path, None) => write!(f, "{}: ", path.display())?,
            Place::Env(var) => write!(f, "environment variable {var}: ")?,
            Place::Unknown => {}
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.why)
    }
}

impl std::error::Error for ConfigError {}

/// Everything wrong with a configuration that could not be read (each line one key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

impl From<ConfigError> for ConfigErrors {
    fn from(e: ConfigError) -> Self {
        ConfigErrors(vec![e])
    }
}

fn bad(key: &str, why: impl std::fmt::Display) -> ConfigError {
    ConfigError {
        key: key.to_owned(),
        place: Place::Unknown,
        why: why.to_string(),
    }
}

/// Whether `u`'s host is a loopback address or `localhost`.
fn loopback_host(u: &url::Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d == "localhost",
        None => false,
    }
}

/// The group names of `key` (lowered), each checked.
fn group_names(key: &str, names: &[String]) -> Result<Vec<String>, ConfigError> {
    if names.is_empty() {
        return Err(bad(
            key,
            "must name a group at least (leave it out for everyone)",
        ));
    }
    names
        .iter()
        .enumerate()
        .map(|(j, n)| {
            storage::GroupRecord::normal_name(n).ok_or_else(|| {
                bad(
                    &format!("{key}[{j}]"),
                    format!("`{n}` is no group name: 1 to 64 of a-z, 0-9, _ and -"),
                )
            })
        })
        .collect()
}

impl Config {
    /// `[access]`: each rule checked, errors naming the rule (numbered from 1) and key.
    fn check_access(&self) -> Result<crate::access::Rules, ConfigError> {
        use crate::access::{Domain, Policy, Rule, Rules, Subject};
        const POLICIES: &str = "bypass, deny, one_factor or two_factor";
        let default_policy = Policy::parse(self.access.default_policy.trim())
            .filter(|p| *p != Policy::Bypass)
            .ok_or_else(|| {
                bad(
                    "access.default_policy",
                    "must be deny, one_factor or two_factor",
                )
            })?;
        let mut rules = Vec::new();
        for (i, r) in self.access.rules.iter().enumerate() {
            let n = i + 1;
            let key = |k: &str| format!("access.rules[{i}].{k}");
            // A list that is there must say something: `[]` matching nothing (or
            // everything) is a mistake either way.
            let list = |k: &str, v: &Option<Vec<String>>| -> Result<Vec<String>, ConfigError> {
                match v {
                    None => Ok(Vec::new()),
                    Some(v) if v.is_empty() => Err(bad(
                        &key(k),
                        format!("rule {n}: an empty list; leave the key out to match any"),
                    )),
                    Some(v) => Ok(v.clone()),
                }
            };
            let each = |k: &str, j: usize, what: &str, v: &str| {
                bad(
                    &format!("{}[{j}]", key(k)),
                    format!("rule {n}: `{v}` is not {what}"),
                )
            };
            let policy = Policy::parse(r.policy.trim())
                .ok_or_else(|| bad(&key("policy"), format!("rule {n}: must be {POLICIES}")))?;
            let mut domains = Vec::new();
            for (j, d) in list("domain", &r.domain)?.iter().enumerate() {
                domains.push(
                    Domain::parse(d).ok_or_else(|| each("domain", j, "a host or *.domain", d))?,
                );
            }
            let mut resources = Vec::new();
            for (j, p) in list("resources", &r.resources)?.iter().enumerate() {
                let re = regex::RegexBuilder::new(p)
                    .size_limit(1 << 20)
                    .build()
                    .map_err(|e| {
                        bad(
                            &format!("{}[{j}]", key("resources")),
                            format!("rule {n}: not a regex: {e}"),
                        )
                    })?;
                resources.push(re);
            }
            let mut methods = Vec::new();
            for (j, m) in list("methods", &r.methods)?.iter().enumerate() {
                let m = m.trim().to_ascii_uppercase();
                if m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()) {
                    return Err(each("methods", j, "a method (GET, POST, ...)", &m));
                }
                methods.push(m);
            }
            let mut networks = Vec::new();
            for (j, c) in list("networks", &r.networks)?.iter().enumerate() {
                networks.push(
                    Cidr::parse(c)
                        .ok_or_else(|| each("networks", j, "an address or CIDR range", c))?,
                );
            }
            let mut subjects = Vec::new();
            for (j, s) in list("subject", &r.subject)?.iter().enumerate() {
                subjects.push(Subject::parse(s).ok_or_else(|| {
                    each("subject", j, "group:NAME or user:EMAIL|USERNAME|ID", s)
                })?);
            }
            if policy == Policy::Bypass && !subjects.is_empty() {
                return Err(bad(
                    &key("subject"),
                    format!(
                        "rule {n}: a bypass rule lets in without a sign-in, so it cannot \
                         name subjects; use one_factor for them"
                    ),
                ));
            }
            rules.push(Rule {
                domains,
                resources,
                methods,
                networks,
                subjects,
                policy,
            });
        }
        Ok(Rules {
            default_policy,
            rules,
        })
    }
}

/// `address:port`, or `host:port` resolved now (the first address it names).
fn socket_addr(key: &str, v: &str) -> Result<SocketAddr, ConfigError> {
    if let Ok(a) = v.parse::<SocketAddr>() {
        return Ok(a);
    }
    let explain = |why: &str| {
        bad(
            key,
            format!("an address and port, such as 127.0.0.1:8080 or [::1]:8080 ({why}), got {v:?}"),
        )
    };
    if v.rsplit_once(':')
        .is_none_or(|(_, p)| p.parse::<u16>().is_err())
    {
        return Err(explain("the port is missing"));
    }
    std::net::ToSocketAddrs::to_socket_addrs(v)
        .map_err(|_| explain("the host name does not resolve"))?
        .next()
        .ok_or_else(|| explain("the host name does not resolve"))
}

/// Where the server key file of a store lives when `storage.key_file` is empty.
fn default_key_file(store: &Path) -> PathBuf {
    let mut p = store.as_os_str().to_owned();
    p.push(".key");
    PathBuf::from(p)
}

impl Checked {
    /// The configuration as TOML with every secret masked (`latchkey config check`).
    pub fn masked_toml(&self) -> String {
        self.raw.masked_toml()
    }
}

/// `url` with the password of its user information masked.
fn mask_url_password(url: &str) -> String {
    let Some(scheme) = url.find("://") else {
        return url.to_owned();
    };
    let rest = url.get(scheme + 3..).unwrap_or("");
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = rest.get(..authority_end).unwrap_or("");
    match authority.rfind('@').and_then(|at| {
        let userinfo = authority.get(..at)?;
        let (user, _) = userinfo.split_once(':')?;
        Some((user, at))
    }) {
        Some((user, at)) => format!(
            "{}{user}:********{}",
            url.get(..scheme + 3).unwrap_or(""),
            rest.get(at..).unwrap_or("")
        ),
        None => url.to_owned(),
    }
}

/// Splits `Name <address>` (or a bare address) into its parts.
pub fn parse_mailbox(s: &str) -> Option<(String, String)> {
    let s = s.trim();
    match (s.rfind('<'), s.ends_with('>')) {
        (Some(i), true) => {
            let name = s.get(..i)?.trim().trim_matches('"').to_owned();
            let addr = s.get(i + 1..s.len() - 1)?.trim().to_owned();
            (addr.contains('@') && !addr.contains(['<', '>', ' '])).then_some((name, addr))
        }
        _ => {
            (s.contains('@') && !s.contains(['<', '>', ' '])).then(|| (String::new(), s.to_owned()))
        }
    }
}

/// A redirect URI a client may register: an absolute http(s) URL without a fragment or
/// user name (http only for a loopback host), or a private-use scheme (`com.example.app:/cb`,
/// native apps, RFC 8252).
fn redirect_uri_ok(u: &str) -> Result<(), &'static str> {
    let parsed = url::Url::parse(u).map_err(|_| "is not an absolute URL")?;
    if parsed.fragment().is_some() || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not carry a fragment or a user name");
    }
    match parsed.scheme() {
        "https" => Ok(()),
        "http" => match parsed.host() {
            Some(url::Host::Domain("localhost")) => Ok(()),
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => Ok(()),
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => Ok(()),
            _ => Err("must be https (http only for localhost and loopback addresses)"),
        },
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" | "ftp" => {
            Err("must be https, loopback http, or an app's private-use scheme")
        }
        s if s.contains('.') => Ok(()),
        _ => Err("must be https, loopback http, or an app's private-use scheme (reverse domain)"),
    }
}

impl Config {
    /// `[[oidc.clients]]`, checked.
    fn oidc_settings(
        &self,
        portal: bool,
        mounts: &[(&'static str, String)],
        warnings: &mut Vec<String>,
    ) -> Result<Vec<OidcClientSettings>, ConfigError> {
        let mut out: Vec<OidcClientSettings> = Vec::new();
        for (i, c) in self.oidc.clients.iter().enumerate() {
            let key = |k: &str| format!("oidc.clients[{i}].{k}");
            if c.id.is_empty() || !c.id.bytes().all(|b| b.is_ascii_graphic()) || c.id.len() > 200 {
                return Err(bad(&key("id"), "must be 1 to 200 visible ASCII characters"));
            }
            if out.iter().any(|o| o.id == c.id) || self.oauth.clients.iter().any(|o| o.id == c.id) {
                return Err(bad(
                    &key("id"),
                    format!("`{}` is the id of another client (oidc or oauth)", c.id),
                ));
            }
            if c.redirect_uris.is_empty() {
                return Err(bad(&key("redirect_uris"), "must list at least one URL"));
            }
            for (j, u) in c.redirect_uris.iter().enumerate() {
                redirect_uri_ok(u)
                    .map_err(|why| bad(&format!("{}[{j}]", key("redirect_uris")), why))?;
            }
            for (j, u) in c.post_logout_redirect_uris.iter().enumerate() {
                redirect_uri_ok(u).map_err(|why| {
                    bad(&format!("{}[{j}]", key("post_logout_redirect_uris")), why)
                })?;
            }
            let mut origins: Vec<String> = c
                .redirect_uris
                .iter()
                .filter_map(|u| url::Url::parse(u).ok())
                .filter(|u| matches!(u.scheme(), "http" | "https"))
                .map(|u| u.origin().ascii_serialization())
                .collect();
            for (j, o) in c.allowed_origins.iter().enumerate() {
                let parsed = url::Url::parse(o).ok().filter(|u| {
                    matches!(u.scheme(), "http" | "https") && u.origin().ascii_serialization() == *o
                });
                if parsed.is_none() {
                    return Err(bad(
                        &format!("{}[{j}]", key("allowed_origins")),
                        "must be an origin as browsers send it: scheme://host[:port], lower case, no path or trailing slash",
                    ));
                }
                origins.push(o.clone());
            }
            origins.sort();
            origins.dedup();
            let alg = crate::signer::idtoken::IdAlg::from_jws(&c.id_token_alg)
                .ok_or_else(|| bad(&key("id_token_alg"), "must be `RS256`, `ES256` or `EdDSA`"))?;
            if !c.secret.is_empty() && c.secret.len() < 16 {
                warnings.push(format!(
                    "oidc client `{}` has a secret shorter than 16 characters",
                    c.id
                ));
            }
            out.push(OidcClientSettings {
                id: c.id.clone(),
                secret_hash: (!c.secret.is_empty())
                    .then(|| crate::primitives::sha256(c.secret.as_bytes())),
                redirect_uris: c.redirect_uris.clone(),
                name: if c.name.is_empty() {
                    c.id.clone()
                } else {
                    c.name.clone()
                },
                consent: c.consent,
                id_token_alg: alg,
                post_logout_redirect_uris: c.post_logout_redirect_uris.clone(),
                origins,
                allowed_groups: match &c.allowed_groups {
                    None => None,
                    Some(gs) => Some(group_names(&key("allowed_groups"), gs)?),
                },
                require_mfa: c.require_mfa,
            });
        }
        if !out.is_empty() {
            if !portal {
                return Err(bad(
                    "oidc.clients",
                    "need the portal (people sign in on its pages): set portal.path",
                ));
            }
            let issuer = url::Url::parse(&self.tokens.issuer).ok();
            if !issuer
                .is_some_and(|u| matches!(u.scheme(), "https" | "http") && u.query().is_none())
            {
                return Err(bad(
                    "tokens.issuer",
                    "must be the https URL clients find /.well-known/openid-configuration \
                     under (for OpenID Connect), e.g. the public URL",
                ));
            }
            if let Some((name, _)) = mounts
                .iter()
                .find(|(_, m)| m.as_str() == "/oidc" || m.starts_with("/oidc/"))
            {
                return Err(bad(
                    &format!("families.{name}"),
                    "must not be mounted under /oidc (the OpenID Connect endpoints)",
                ));
            }
        }
        Ok(out)
    }

    /// `[audit]` and `[[webhooks]]`, checked.
    fn check_events(
        &self,
        warnings: &mut Vec<String>,
    ) -> Result<(AuditSettings, Vec<WebhookSettings>), ConfigError> {
        let audit = AuditSettings {
            enabled: self.audit.enabled,
            retention: seconds("audit.retention", self.audit.retention)?,
        };
        let mut hooks: Vec<WebhookSettings> = Vec::new();
        for (i, h) in self.webhooks.iter().enumerate() {
            let key = |k: &str| format!("webhooks[{i}].{k}");
            let url = url::Url::parse(&h.url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .ok_or_else(|| bad(&key("url"), "must be an http(s) URL"))?;
            if url.scheme() == "http" && !loopback_host(&url) {
                warnings.push(format!(
                    "webhooks[{i}]: {} is plain http: the messages (user data) travel unencrypted",
                    h.url
                ));
            }
            let secret = h
                .secret
                .strip_prefix("whsec_")
                .and_then(|b| {
                    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b).ok()
                })
                .filter(|k| (16..=64).contains(&k.len()))
                .ok_or_else(|| {
                    bad(
                        &key("secret"),
                        "must be `whsec_` and the base64 of 16 to 64 random bytes \
                         (e.g. `echo whsec_$(head -c 32 /dev/urandom | base64)`)",
                    )
                })?;
            if h.events.is_empty() {
                return Err(bad(&key("events"), "must name at least one type"));
            }
            for (j, e) in h.events.iter().enumerate() {
                let known = WEBHOOK_TYPES.contains(&e.as_str())
                    || e.strip_prefix("audit.")
                        .is_some_and(|a| AUDIT_EVENTS.contains(&a));
                if !known {
                    return Err(bad(
                        &format!("{}[{j}]", key("events")),
                        format!(
                            "`{e}` is no type: one of {}, or audit.<event> (docs/api.md)",
                            WEBHOOK_TYPES.join(", ")
                        ),
                    ));
                }
            }
            if h.retry_schedule.len() > 20 || h.retry_schedule.iter().any(|s| *s > 7 * 86_400) {
                return Err(bad(
                    &key("retry_schedule"),
                    "at most 20 waits, each at most a week (seconds)",
                ));
            }
            let id = crate::primitives::hex(&crate::primitives::sha256(url.as_str().as_bytes()))
                .chars()
                .take(16)
                .collect::<String>();
            if hooks.iter().any(|o| o.id == id) {
                return Err(bad(&key("url"), "names another webhook's URL"));
            }
            hooks.push(WebhookSettings {
                id,
                url,
                key: secret,
                events: h.events.clone(),
                retry_schedule: h
                    .retry_schedule
                    .iter()
                    .map(|s| Duration::from_secs(*s))
                    .collect(),
            });
        }
        if !hooks.is_empty() && !audit.enabled {
            return Err(bad(
                "audit.enabled",
                "must be true with webhooks (their messages are read from the audit log)",
            ));
        }
        Ok((audit, hooks))
    }

    /// `[[upstream]]`, checked.
    fn check_upstreams(
        &self,
        portal: bool,
        warnings: &mut Vec<String>,
    ) -> Result<Vec<UpstreamSettings>, ConfigError> {
        let mut out: Vec<UpstreamSettings> = Vec::new();
        for (i, u) in self.upstream.iter().enumerate() {
            let key = |k: &str| format!("upstream[{i}].{k}");
            let id_ok = (1..=32).contains(&u.id.len())
                && u.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !id_ok {
                return Err(bad(&key("id"), "must be 1 to 32 of a-z, 0-9 and -"));
            }
            if out.iter().any(|o| o.id == u.id) {
                return Err(bad(
                    &key("id"),
                    format!("`{}` names another upstream", u.id),
                ));
            }
            let issuer = url::Url::parse(&u.issuer).ok().filter(|x| {
                matches!(x.scheme(), "https" | "http")
                    && x.host().is_some()
                    && x.query().is_none()
                    && x.fragment().is_none()
            });
            let Some(issuer_url) = issuer else {
                return Err(bad(
                    &key("issuer"),
                    "must be the provider's issuer URL (https, no query), as its \
                     /.well-known/openid-configuration names it",
                ));
            };
            if issuer_url.scheme() == "http" && !loopback_host(&issuer_url) {
                warnings.push(format!(
                    "upstream `{}`: the issuer is plain http: its answers can be forged on the way",
                    u.id
                ));
            }
            if u.client_id.is_empty() {
                return Err(bad(&key("client_id"), "must be latchkey's client id there"));
            }
            let secret = match (
                u.client_secret.is_empty(),
                u.client_secret_file.as_os_str().is_empty(),
            ) {
                (false, true) => u.client_secret.clone(),
                (true, false) => std::fs::read_to_string(&u.client_secret_file)
                    .map_err(|e| {
                        bad(
                            &key("client_secret_file"),
                            format!("cannot be read ({}): name a readable file", e.kind()),
                        )
                    })?
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
                _ => {
                    return Err(bad(
                        &key("client_secret"),
                        "set client_secret or client_secret_file (one of them)",
                    ))
                }
            };
            if secret.is_empty() {
                return Err(bad(&key("client_secret"), "must not be empty"));
            }
            if !u.scopes.iter().any(|s| s == "openid") {
                return Err(bad(&key("scopes"), "must include `openid`"));
            }
            if let Some(s) = u.scopes.iter().find(|s| {
                s.is_empty()
                    || !s
                        .bytes()
                        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
            }) {
                return Err(bad(&key("scopes"), format!("`{s}` is not a scope token")));
            }
            let link = match u.link.as_str() {
                "verified_email" => LinkRule::VerifiedEmail,
                "none" => LinkRule::None,
                _ => return Err(bad(&key("link"), "must be `verified_email` or `none`")),
            };
            let ca_file = (!u.ca_file.as_os_str().is_empty()).then(|| u.ca_file.clone());
            if let Some(f) = &ca_file {
                if let Err(e) = std::fs::metadata(f) {
                    return Err(bad(
                        &key("ca_file"),
                        format!("cannot be read ({}): name a PEM file", e.kind()),
                    ));
                }
            }
            out.push(UpstreamSettings {
                id: u.id.clone(),
                name: if u.name.trim().is_empty() {
                    u.id.clone()
                } else {
                    u.name.trim().to_owned()
                },
                issuer: u.issuer.clone(),
                client_id: u.client_id.clone(),
                client_secret: protocol::Secret(secret),
                scopes: u.scopes.clone(),
                link,
                signup: u.signup,
                trust_mfa: u.trust_mfa,
                groups_claim: (!u.groups_claim.is_empty()).then(|| u.groups_claim.clone()),
                ca_file,
            });
        }
        if !out.is_empty() && !portal {
            return Err(bad(
                "upstream",
                "needs the portal (its login page shows the buttons): set portal.path",
            ));
        }
        Ok(out)
    }

    /// `[portal]`, checked; `None` when it is switched off.
    fn portal_settings(&self) -> Result<Option<PortalSettings>, ConfigError> {
        let p = &self.portal;
        let path = match &p.path {
            Mount::Switch(false) => return Ok(None),
            Mount::Switch(true) => "/ui".to_owned(),
            Mount::At(path)
                if path.len() > 1
                    && path.starts_with('/')
                    && !path.ends_with('/')
                    && path
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"/-_.".contains(&b)) =>
            {
                path.clone()
            }
            Mount::At(_) => {
                return Err(bad(
                    "portal.path",
                    "must be a path such as `/ui` (letters, digits, - _ . /), or false",
                ))
            }
        };
        let public =
            url::Url::parse(&self.server.public_url).map_err(|e| bad("server.public_url", e))?;
        let public_host = public
            .host_str()
            .ok_or_else(|| bad("server.public_url", "must name a host"))?
            .to_ascii_lowercase();
        let public_origin = public.origin().ascii_serialization();
        let cookie_domain = match p.cookie_domain.trim_start_matches('.').to_ascii_lowercase() {
            d if d.is_empty() => None,
            d => {
                let label_ok = |l: &str| {
                    !l.is_empty()
                        && l.len() <= 63
                        && !l.starts_with('-')
                        && !l.ends_with('-')
                        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                };
                if !d.split('.').all(label_ok) {
                    return Err(bad("portal.cookie_domain", "must be a domain name"));
                }
                if public_host != d && !public_host.ends_with(&format!(".{d}")) {
                    return Err(bad(
                        "portal.cookie_domain",
                        format!(
                            "must be the public URL's host ({public_host}) or a domain above \
                             it (browsers refuse any other)"
                        ),
                    ));
                }
                Some(d)
            }
        };
        let logo_url = match p.logo_url.as_str() {
            "" => None,
            l if l.starts_with('/') && !l.starts_with("//") && !l.contains(['\\', '"', ' ']) => {
                Some(l.to_owned())
            }
            l => match url::Url::parse(l) {
                Ok(u) if u.scheme() == "https" && u.host_str().is_some() => Some(u.to_string()),
                _ => {
                    return Err(bad(
                        "portal.logo_url",
                        "must be an https URL or a path on this server",
                    ))
                }
            },
        };
        if p.title.trim().is_empty() || p.title.chars().count() > 60 {
            return Err(bad("portal.title", "must be 1 to 60 characters"));
        }
        let logo = match p.logo.as_os_str().is_empty() {
            true => None,
            false => Some(logo_file(&p.logo)?),
        };
        if logo.is_some() && logo_url.is_some() {
            return Err(bad(
                "portal.logo",
                "give portal.logo (a file) or portal.logo_url (an address), not both",
            ));
        }
        let logo_url = match logo {
            Some(_) => Some(format!("{}/logo", path)),
            None => logo_url,
        };
        let accent = match p.accent_color.trim() {
            "" => None,
            c => Some(accent_color(c)?),
        };
        let footer = match (p.footer_text.trim(), p.footer_url.trim()) {
            ("", "") => None,
            ("", _) | (_, "") => {
                return Err(bad(
                    "portal.footer_text",
                    "give both portal.footer_text and portal.footer_url, or neither",
                ))
            }
            (text, _) if text.chars().count() > 60 => {
                return Err(bad("portal.footer_text", "must be at most 60 characters"))
            }
            (text, url) => {
                let path_ok = url.starts_with('/') && !url.starts_with("//");
                let https = url::Url::parse(url).is_ok_and(|u| u.scheme() == "https");
                if !(path_ok || https) || url.contains(['"', ' ', '\\']) {
                    return Err(bad(
                        "portal.footer_url",
                        "must be an https URL or a path on this server",
                    ));
                }
                Some((text.to_owned(), url.to_owned()))
            }
        };
        Ok(Some(PortalSettings {
            path,
            session_ttl: seconds("portal.session_ttl", p.session_ttl)?,
            cookie_domain,
            secure: public.scheme() == "https",
            public_host,
            public_origin,
            title: p.title.trim().to_owned(),
            logo_url,
            logo,
            accent,
            footer,
            signup: p.signup && self.session.allow_signup,
        }))
    }
}

impl Checked {
    /// Every group the configuration names, with where: the access rules' `subject`s
    /// and the OpenID Connect clients' `allowed_groups`.
    pub fn named_groups(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (i, r) in self.access.rules.iter().enumerate() {
            for s in &r.subjects {
                if let crate::access::Subject::Group(g) = s {
                    out.push((format!("access.rules[{i}].subject"), g.clone()));
                }
            }
        }
        for (i, c) in self.oidc_clients.iter().enumerate() {
            for g in c.allowed_groups.iter().flatten() {
                out.push((format!("oidc.clients[{i}].allowed_groups"), g.clone()));
            }
        }
        out
    }

    /// The name mails carry in their subject: the portal's title when one was chosen,
    /// else `mfa.issuer` (what they carried before the portal had a title, so a
    /// deployment that named only its issuer keeps its subjects).
    pub fn brand(&self) -> &str {
        match &self.portal {
            Some(p) if p.title != Portal::default().title => &p.title,
            _ => &self.mfa_issuer,
        }
    }
}

impl Config {
    /// `[passkeys]`, checked; `None` when switched off, or when the public URL names no
    /// domain and no `rp_id` is set (a warning says so: WebAuthn needs a domain).
    fn passkey_settings(
        &self,
        warnings: &mut Vec<String>,
    ) -> Result<Option<PasskeySettings>, ConfigError> {
        let p = &self.passkeys;
        if !p.enabled {
            return Ok(None);
        }
        let public =
            url::Url::parse(&self.server.public_url).map_err(|e| bad("server.public_url", e))?;
        let rp_id = match p.rp_id.trim().to_ascii_lowercase() {
            id if !id.is_empty() => id,
            _ => match public.domain() {
                Some(d) => d.to_ascii_lowercase(),
                None => {
                    warnings.push(
                        "passkeys are off: server.public_url names no domain (WebAuthn needs \
                         one; set passkeys.rp_id, or passkeys.enabled = false)"
                            .into(),
                    );
                    return Ok(None);
                }
            },
        };
        let fits = |u: &url::Url| {
            u.domain().is_some_and(|d| {
                let d = d.to_ascii_lowercase();
                d == rp_id || d.ends_with(&format!(".{rp_id}"))
            })
        };
        let own = url::Url::parse(&public.origin().ascii_serialization())
            .map_err(|e| bad("server.public_url", e))?;
        let mut origins = vec![own];
        for o in &p.origins {
            match url::Url::parse(o) {
                Ok(u) if matches!(u.scheme(), "https" | "http") && u.path() == "/" => {
                    origins.push(u)
                }
                _ => {
                    return Err(bad(
                        "passkeys.origins",
                        format!("`{o}` is not an origin such as https://app.example.com"),
                    ))
                }
            }
        }
        if let Some(o) = origins.iter().find(|o| !fits(o)) {
            return Err(bad(
                "passkeys.rp_id",
                format!("must be the host of every passkey origin or a domain above it; {o} is not under `{rp_id}`"),
            ));
        }
        let rp_name = match &self.portal.title {
            n if !n.trim().is_empty() => n.trim().to_owned(),
            _ => "latchkey".to_owned(),
        };
        Ok(Some(PasskeySettings {
            rp_id,
            origins,
            rp_name,
        }))
    }
}

/// The largest logo file the portal serves.
const MAX_LOGO: u64 = 256 * 1024;

/// `portal.logo`: the file's bytes and content type (by its extension).
fn logo_file(path: &Path) -> Result<(Vec<u8>, &'static str), ConfigError> {
    let kind = match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        _ => {
            return Err(bad(
                "portal.logo",
                "must be a .png, .svg, .jpg or .webp file",
            ))
        }
    };
    let size = std::fs::metadata(path)
        .map_err(|e| bad("portal.logo", format!("{}: {e}", path.display())))?
        .len();
    if size > MAX_LOGO {
        return Err(bad(
            "portal.logo",
            format!("{} is {size} bytes; at most {MAX_LOGO}", path.display()),
        ));
    }
    let bytes =
        std::fs::read(path).map_err(|e| bad("portal.logo", format!("{}: {e}", path.display())))?;
    Ok((bytes, kind))
}

/// `portal.accent_color`: `#rrggbb` (lowercase) on which white text reads (WCAG's 4.5:1).
fn accent_color(c: &str) -> Result<String, ConfigError> {
    let hex = c
        .strip_prefix('#')
        .filter(|h| h.len() == 6 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| bad("portal.accent_color", "must be a colour as #rrggbb"))?;
    let channel = |i: usize| {
        let v = f64::from(u8::from_str_radix(hex.get(i..i + 2).unwrap_or("00"), 16).unwrap_or(0))
            / 255.0;
        if v <= 0.039_28 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    let luminance = 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4);
    let contrast = 1.05 / (luminance + 0.05);
    if contrast < 4.5 {
        return Err(bad(
            "portal.accent_color",
            format!(
                "white text on {c} has a contrast of {contrast:.1}:1, under WCAG's 4.5:1; \
                 choose a darker colour"
            ),
        ));
    }
    Ok(format!("#{}", hex.to_ascii_lowercase()))
}

fn seconds(key: &str, v: u64) -> Result<Duration, ConfigError> {
    if v == 0 {
        return Err(bad(key, "must be at least 1 second"));
    }
    if v > 10 * 365 * 86400 {
        return Err(bad(key, "must be at most ten years"));
    }
    Ok(Duration::from_secs(v))
}

impl Config {
    /// Checks every value for sense and parses it, section by section; the error names
    /// the key.
    pub fn validate(self) -> Result<Checked, ConfigError> {
        let mut warnings = Vec::new();
        let server = self.check_server()?;
        let storage = self.check_storage()?;
        let tokens = self.check_tokens(&mut warnings)?;
        let password = self.check_password(&mut warnings)?;
        let mail = self.check_mail()?;
        let (forward_auth_cookie, log_format) = self.check_misc()?;
        let (session, limits) = self.check_limits()?;
        let oauth = self.check_oauth(&mut warnings)?;
        let mounts = self.check_families()?;
        let portal = self.check_portal(&mounts)?;
        let oidc_clients = self.oidc_settings(portal.is_some(), &mounts, &mut warnings)?;
        let admin = self.check_admin(server.listen)?;
        let passkeys = self.passkey_settings(&mut warnings)?;
        let access = self.check_access()?;
        let upstreams = self.check_upstreams(portal.is_some(), &mut warnings)?;
        let (audit, webhooks) = self.check_events(&mut warnings)?;
        let language = crate::i18n::Lang::from_code(self.portal.default_language.trim())
            .ok_or_else(|| {
                bad(
                    "portal.default_language",
                    format!("must be one of {}", crate::i18n::Lang::codes().join(", ")),
                )
            })?;
        Ok(Checked {
            server,
            storage,
            tokens,
            password,
            mail,
            session,
            mfa_issuer: self.mfa.issuer.clone(),
            access,
            upstreams,
            audit,
            webhooks,
            language,
            limits,
            mounts,
            oauth,
            admin,
            forward_auth_cookie,
            passkeys,
            portal,
            oidc_clients,
            log_format,
            warnings,
            raw: self,
        })
    }

    /// `[server]`.
    fn check_server(&self) -> Result<ServerSettings, ConfigError> {
        let listen = socket_addr("server.listen", &self.server.listen)?;
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
        let request_timeout = seconds("server.request_timeout", self.server.request_timeout)?;
        let header_timeout = seconds("server.header_timeout", self.server.header_timeout)?;
        let idle_timeout = seconds("server.idle_timeout", self.server.idle_timeout)?;
        if !(1..=1_000_000).contains(&self.server.max_connections) {
            return Err(bad(
                "server.max_connections",
                "must be between 1 and 1000000",
            ));
        }
        let max_connections_per_source = match self.server.max_connections_per_source {
            0 => (self.server.max_connections / 16)
                .max(16)
                .min(self.server.max_connections),
            n if n <= self.server.max_connections => n,
            _ => {
                return Err(bad(
                    "server.max_connections_per_source",
                    "must be at most server.max_connections (0: a sixteenth of it)",
                ))
            }
        };
        let mut trusted_proxies = Vec::new();
        for (i, p) in self.server.trusted_proxies.iter().enumerate() {
            trusted_proxies.push(Cidr::parse(p).ok_or_else(|| {
                bad(
                    &format!("server.trusted_proxies[{i}]"),
                    format!("`{p}` is not an address or a CIDR range such as 10.0.0.0/8"),
                )
            })?);
        }
        Ok(ServerSettings {
            listen,
            public_url: self.server.public_url.trim_end_matches('/').to_owned(),
            max_body: self.server.max_body,
            request_timeout,
            trusted_proxies,
            header_timeout,
            idle_timeout,
            max_connections: self.server.max_connections,
            max_connections_per_source,
        })
    }

    /// `[storage]`.
    fn check_storage(&self) -> Result<StorageSettings, ConfigError> {
        if self.storage.path.as_os_str().is_empty() {
            return Err(bad("storage.path", "must not be empty"));
        }
        if let Some(dir) = self
            .storage
            .path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            if !dir.is_dir() {
                return Err(bad(
                    "storage.path",
                    format!("the directory {} does not exist", dir.display()),
                ));
            }
        }
        let backend = match self.storage.backend.as_str() {
            "redb" => StoreBackend::Redb,
            "postgres" => {
                let url = self.storage.url.trim();
                if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                    return Err(bad(
                        "storage.url",
                        "must be a postgres:// URL when storage.backend is postgres",
                    ));
                }
                if !(1..=1000).contains(&self.storage.pool_size) {
                    return Err(bad("storage.pool_size", "must be between 1 and 1000"));
                }
                StoreBackend::Postgres {
                    url: url.to_owned(),
                    pool_size: self.storage.pool_size,
                }
            }
            other => {
                return Err(bad(
                    "storage.backend",
                    format!("`{other}` is not one of redb, postgres"),
                ))
            }
        };
        if !(1..=65_536).contains(&self.storage.cache_size) {
            return Err(bad(
                "storage.cache_size",
                "must be between 1 and 65536 (MiB of the store kept in memory)",
            ));
        }
        let key_file = match (&backend, self.storage.key_file.as_os_str().is_empty()) {
            (_, false) => self.storage.key_file.clone(),
            (StoreBackend::Redb, true) => default_key_file(&self.storage.path),
            // Every server of the database needs the same file: no path to derive it from.
            (StoreBackend::Postgres { .. }, true) => PathBuf::from("latchkey.key"),
        };
        Ok(StorageSettings {
            backend,
            path: self.storage.path.clone(),
            key_file,
            cache_bytes: self.storage.cache_size.saturating_mul(1024 * 1024),
            backup_dir: if self.storage.backup_dir.as_os_str().is_empty() {
                match self.storage.path.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                }
            } else {
                self.storage.backup_dir.clone()
            },
        })
    }

    /// `[tokens]`.
    fn check_tokens(&self, warnings: &mut Vec<String>) -> Result<TokenSettings, ConfigError> {
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
        let access_ttl = seconds("tokens.access_ttl", self.tokens.access_ttl)?;
        let refresh_ttl = seconds("tokens.refresh_ttl", self.tokens.refresh_ttl)?;
        if access_ttl < Duration::from_secs(60) {
            warnings.push(format!(
                "tokens.access_ttl is only {} s",
                self.tokens.access_ttl
            ));
        }
        if refresh_ttl < access_ttl {
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
        Ok(TokenSettings {
            alg,
            issuer: self.tokens.issuer.clone(),
            access_ttl,
            refresh_ttl,
            reuse_interval: Duration::from_secs(self.tokens.reuse_interval),
            cache_size: self.tokens.cache_size,
            key_poll: seconds("tokens.key_poll", self.tokens.key_poll)?,
        })
    }

    /// `[password]`.
    fn check_password(&self, warnings: &mut Vec<String>) -> Result<PasswordSettings, ConfigError> {
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
        let l = &self.password.import_limits;
        if l.memory_kib < 1024 || l.argon2_passes == 0 || l.parallelism == 0 || l.pbkdf2_rounds == 0
        {
            return Err(bad(
                "password.import_limits",
                "memory_kib must be at least 1024, the others at least 1",
            ));
        }
        if !(1..=1024).contains(&self.password.min_length) {
            return Err(bad("password.min_length", "must be between 1 and 1024"));
        }
        let hash_threads = match self.password.hash_threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        Ok(PasswordSettings {
            min_length: self.password.min_length,
            scrypt: self.password.scrypt.clone(),
            hash_threads,
            hash_queue: self.password.hash_queue,
            import_limits: self.password.import_limits.clone(),
        })
    }

    /// `[mail]`.
    fn check_mail(&self) -> Result<MailSettings, ConfigError> {
        let tls = match self.mail.smtp.tls.as_str() {
            "none" => SmtpTls::None,
            "starttls" => SmtpTls::StartTls,
            "implicit" => SmtpTls::Implicit,
            _ => {
                return Err(bad(
                    "mail.smtp.tls",
                    "must be `none`, `starttls` or `implicit`",
                ))
            }
        };
        let transport = match self.mail.transport.as_str() {
            "log" => MailTransport::Log,
            "smtp" => MailTransport::Smtp(SmtpSettings {
                host: self.mail.smtp.host.clone(),
                port: self.mail.smtp.port,
                tls,
                credentials: (!self.mail.smtp.username.is_empty()).then(|| {
                    (
                        self.mail.smtp.username.clone(),
                        self.mail.smtp.password.clone(),
                    )
                }),
            }),
            _ => return Err(bad("mail.transport", "must be `log` or `smtp`")),
        };
        let (from_name, from_address) = parse_mailbox(&self.mail.from)
            .ok_or_else(|| bad("mail.from", "must be `Name <address>` or an address"))?;
        let mail_timeout = seconds("mail.timeout", self.mail.timeout)?;
        Ok(MailSettings {
            transport,
            from_name,
            from_address,
            timeout: mail_timeout,
        })
    }

    /// `[forward_auth]`, `[log]`, `[mfa]`: the cookie forward-auth may read, the log format.
    fn check_misc(&self) -> Result<(Option<String>, LogFormat), ConfigError> {
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
        let log_format = match self.log.format.as_str() {
            "auto" => LogFormat::Auto,
            "human" => LogFormat::Human,
            "json" => LogFormat::Json,
            _ => return Err(bad("log.format", "must be `auto`, `human` or `json`")),
        };
        if self.mfa.issuer.is_empty() || self.mfa.issuer.contains(':') {
            return Err(bad("mfa.issuer", "must be non-empty and without `:`"));
        }
        let cookie =
            (!self.forward_auth.cookie.is_empty()).then(|| self.forward_auth.cookie.clone());
        Ok((cookie, log_format))
    }

    /// `[session]` and `[limits]`.
    fn check_limits(&self) -> Result<(SessionSettings, LimitSettings), ConfigError> {
        let code_ttl = seconds("session.code_ttl", self.session.code_ttl)?;
        let lockout_window = seconds("limits.lockout_window", self.limits.lockout_window)?;
        let lockout_duration = seconds("limits.lockout_duration", self.limits.lockout_duration)?;
        if self.limits.mails_per_hour == 0 {
            return Err(bad("limits.mails_per_hour", "must be at least 1"));
        }
        if self.limits.lockout_failures == 0 {
            return Err(bad("limits.lockout_failures", "must be at least 1"));
        }
        if self.limits.lockout_failures_total < self.limits.lockout_failures {
            return Err(bad(
                "limits.lockout_failures_total",
                "must be at least limits.lockout_failures",
            ));
        }
        Ok((
            SessionSettings {
                code_ttl,
                allow_signup: self.session.allow_signup,
                invalidate_previous: self.session.invalidate_previous,
            },
            LimitSettings {
                per_ip_per_minute: self.limits.per_ip_per_minute,
                lockout_failures: self.limits.lockout_failures,
                lockout_failures_total: self.limits.lockout_failures_total,
                lockout_window,
                lockout_duration,
                mails_per_hour: self.limits.mails_per_hour,
            },
        ))
    }

    /// `[oauth]`.
    fn check_oauth(&self, warnings: &mut Vec<String>) -> Result<OAuthSettings, ConfigError> {
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
        Ok(OAuthSettings {
            signup_roles: self.oauth.signup_roles.clone(),
            clients: self.oauth.clients.clone(),
        })
    }

    /// `[families]`: `(family, prefix)` of every family switched on.
    fn check_families(&self) -> Result<Vec<(&'static str, String)>, ConfigError> {
        let mut mounts = Vec::new();
        for (name, m) in &self.families {
            let Some(family) = protocol::families::FAMILIES.iter().find(|f| f.name == name) else {
                let known: Vec<&str> = protocol::families::FAMILIES
                    .iter()
                    .map(|f| f.name)
                    .collect();
                return Err(bad(
                    &format!("families.{name}"),
                    format!("no such route family (known: {})", known.join(", ")),
                ));
            };
            let prefix = match m {
                Mount::Switch(false) => continue,
                Mount::Switch(true) => family.default_mount.to_owned(),
                Mount::At(p) if p.starts_with('/') && !p.contains(['?', '#', ' ']) => p.clone(),
                Mount::At(_) => {
                    return Err(bad(
                        &format!("families.{name}"),
                        "must be a path starting with `/`, or false",
                    ))
                }
            };
            mounts.push((family.name, prefix));
        }
        let pairs: Vec<(&str, &str)> = mounts.iter().map(|(n, p)| (*n, p.as_str())).collect();
        protocol::families::mount(&pairs, &self.server.public_url, self.password.min_length)
            .map_err(|e| bad("families", e))?;
        Ok(mounts)
    }

    /// `[portal]`, which must not hold a family's mount.
    fn check_portal(
        &self,
        mounts: &[(&'static str, String)],
    ) -> Result<Option<PortalSettings>, ConfigError> {
        let portal = self.portal_settings()?;
        if let Some(p) = &portal {
            if let Some((name, _)) = mounts
                .iter()
                .find(|(_, m)| m.as_str() == p.path || m.starts_with(&format!("{}/", p.path)))
            {
                return Err(bad(
                    "portal.path",
                    format!("must not hold a family's mount (families.{name})"),
                ));
            }
        }
        Ok(portal)
    }

    /// `[admin]`.
    fn check_admin(&self, listen: SocketAddr) -> Result<AdminSettings, ConfigError> {
        let admin_listen = socket_addr("admin.listen", &self.admin.listen)?;
        let admin_token = (!self.admin.token.is_empty()).then(|| self.admin.token.clone());
        if admin_token.is_some() && admin_listen == listen && listen.port() != 0 {
            return Err(bad("admin.listen", "must differ from server.listen"));
        }
        let token_char = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b);
        if admin_token
            .as_ref()
            .is_some_and(|t| !t.bytes().all(token_char))
        {
            return Err(bad(
                "admin.token",
                "may hold only letters, digits and - . _ ~ + / = (a bearer token, RFC 6750)",
            ));
        }
        if admin_token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err(bad(
                "admin.token",
                "must be at least 16 characters (or empty: admin API off)",
            ));
        }
        let ui_group = match self.admin.ui_group.trim() {
            "" => None,
            g => Some(storage::GroupRecord::normal_name(g).ok_or_else(|| {
                bad(
                    "admin.ui_group",
                    "must be a group name: 1 to 64 of a-z, 0-9, _ and -",
                )
            })?),
        };
        Ok(AdminSettings {
            listen: admin_listen,
            token: admin_token,
            ui_group,
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
        c.storage.url = mask_url_password(&c.storage.url);
        for client in &mut c.oauth.clients {
            mask(&mut client.secret);
        }
        for client in &mut c.oidc.clients {
            mask(&mut client.secret);
        }
        for u in &mut c.upstream {
            mask(&mut u.client_secret);
        }
        for h in &mut c.webhooks {
            mask(&mut h.secret);
        }
        toml::to_string_pretty(&c).unwrap_or_else(|e| format!("# cannot print: {e}"))
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
        // Every key is in the file (a key left out would still parse, as its default).
        let shipped: toml::Table = toml::from_str(&text).unwrap();
        let all = toml::Table::try_from(Config::default()).unwrap();
        for (section, keys) in &all {
            let Some(keys) = keys.as_table() else {
                assert!(shipped.contains_key(section), "auth.toml lacks {section}");
                continue;
            };
            for key in keys.keys() {
                assert!(
                    shipped.get(section).and_then(|s| s.get(key)).is_some(),
                    "auth.toml lacks {section}.{key}"
                );
            }
        }
    }

    #[test]
    fn config_check_masks_every_secret() {
        let mut c = Config::default();
        c.oidc.clients.push(OidcClient {
            id: "app".into(),
            secret: "oidc-secret-value".into(),
            ..OidcClient::default()
        });
        c.upstream.push(Upstream {
            id: "corp".into(),
            client_secret: "upstream-secret-value".into(),
            ..Upstream::default()
        });
        c.admin.token = "admin-token-value".into();
        let shown = c.masked_toml();
        for secret in [
            "oidc-secret-value",
            "upstream-secret-value",
            "admin-token-value",
        ] {
            assert!(!shown.contains(secret), "{secret} shown:\n{shown}");
        }
        assert!(!format!("{c:?}").contains("upstream-secret-value"));
    }

    #[test]
    fn upstreams_are_checked_key_by_key() {
        let base = || {
            let mut c = Config::default();
            c.upstream.push(Upstream {
                id: "corp".into(),
                issuer: "https://sso.example.com".into(),
                client_id: "latchkey".into(),
                client_secret: "s3cret-s3cret".into(),
                ..Upstream::default()
            });
            c
        };
        let ok = base().validate().unwrap();
        assert_eq!(ok.upstreams[0].link, LinkRule::VerifiedEmail);
        assert!(!ok.upstreams[0].signup);
        type Spoil = fn(&mut Upstream);
        let cases: [(&str, Spoil); 7] = [
            ("upstream[0].id", |u| u.id = "Corp!".into()),
            ("upstream[0].issuer", |u| {
                u.issuer = "sso.example.com".into()
            }),
            ("upstream[0].client_id", |u| u.client_id.clear()),
            ("upstream[0].client_secret", |u| u.client_secret.clear()),
            ("upstream[0].scopes", |u| u.scopes = vec!["email".into()]),
            ("upstream[0].link", |u| u.link = "email".into()),
            ("upstream[0].client_secret_file", |u| {
                u.client_secret.clear();
                u.client_secret_file = "/nonexistent/secret".into();
            }),
        ];
        for (key, spoil) in cases {
            let mut c = base();
            spoil(&mut c.upstream[0]);
            let e = c.validate().unwrap_err();
            assert_eq!(e.key, key, "{e}");
            assert!(!e.to_string().contains("s3cret"), "{e}");
        }
        let mut twice = base();
        twice.upstream.push(twice.upstream[0].clone());
        assert_eq!(twice.validate().unwrap_err().key, "upstream[1].id");
        let mut plain = base();
        plain.upstream[0].issuer = "http://sso.example.com".into();
        assert!(plain
            .validate()
            .unwrap()
            .warnings
            .iter()
            .any(|w| w.contains("plain http")));
    }

    #[test]
    fn passkeys_need_a_domain_that_every_origin_is_under() {
        let c = Config::default().validate().unwrap();
        let p = c.passkeys.unwrap();
        assert_eq!(p.rp_id, "localhost");
        assert_eq!(p.origins[0].as_str(), "http://localhost:8080/");
        let mut c = Config::default();
        c.server.public_url = "http://127.0.0.1:8080".into();
        let checked = c.validate().unwrap();
        assert!(checked.passkeys.is_none());
        assert!(checked
            .warnings
            .iter()
            .any(|w| w.contains("passkeys are off")));
        let mut c = Config::default();
        c.server.public_url = "https://auth.example.com".into();
        c.passkeys.rp_id = "example.com".into();
        c.passkeys.origins = vec!["https://app.example.com".into()];
        assert_eq!(c.validate().unwrap().passkeys.unwrap().origins.len(), 2);
        let mut c = Config::default();
        c.server.public_url = "https://auth.example.com".into();
        c.passkeys.rp_id = "other.org".into();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("passkeys.rp_id"));
        let mut c = Config::default();
        c.server.public_url = "https://auth.example.com".into();
        c.passkeys.origins = vec!["https://evil.example.net".into()];
        assert!(c
            .clone()
            .validate()
            .unwrap_err()
            .to_string()
            .contains("passkeys.rp_id"));
        c.passkeys.origins = vec!["not a url".into()];
        assert!(c
            .clone()
            .validate()
            .unwrap_err()
            .to_string()
            .contains("passkeys.origins"));
        c.passkeys.enabled = false;
        assert!(c.validate().unwrap().passkeys.is_none());
    }

    #[test]
    fn bad_values_name_their_key() {
        let mut c = Config::default();
        c.tokens.algorithm = "RS256".into();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("tokens.algorithm"));
        let mut c = Config::default();
        c.server.listen = "nope".into();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("server.listen"));
        let mut c = Config::default();
        c.password.scrypt.r = 0;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("password.scrypt"));
        let err = toml::from_str::<Config>("[server]\nlisten_at = 1\n").unwrap_err();
        assert!(err.to_string().contains("listen_at"));
        let mut c = Config::default();
        c.server.listen = "localhost:8080".into();
        assert!(c.validate().unwrap().server.listen.ip().is_loopback());
        let mut c = Config::default();
        c.server.listen = "localhost".into();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("the port is missing"));
        let mut c = Config::default();
        c.storage.path = "/no/such/dir/latchkey.redb".into();
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("/no/such/dir does not exist"));
    }

    #[test]
    fn mailboxes() {
        assert_eq!(
            parse_mailbox("latchkey <no-reply@localhost>"),
            Some(("latchkey".into(), "no-reply@localhost".into()))
        );
        assert_eq!(
            parse_mailbox("a@b.c"),
            Some((String::new(), "a@b.c".into()))
        );
        assert_eq!(
            parse_mailbox("\"X Y\" <x@y.z>"),
            Some(("X Y".into(), "x@y.z".into()))
        );
        assert_eq!(parse_mailbox("nope"), None);
        assert_eq!(parse_mailbox("a <b>"), None);
    }

    #[test]
    fn cidr_ranges() {
        let c = |s: &str| Cidr::parse(s).unwrap();
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        assert!(c("10.0.0.0/8").contains(ip("10.200.3.4")));
        assert!(!c("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(c("127.0.0.1").contains(ip("127.0.0.1")));
        assert!(!c("127.0.0.1").contains(ip("127.0.0.2")));
        assert!(c("127.0.0.1/32").contains(ip("::ffff:127.0.0.1")));
        assert!(c("0.0.0.0/0").contains(ip("8.8.8.8")));
        assert!(!c("0.0.0.0/0").contains(ip("2001:db8::1")));
        assert!(c("2001:db8::/32").contains(ip("2001:db8:ffff::1")));
        assert!(!c("2001:db8::/32").contains(ip("2001:db9::1")));
        assert!(c("::1").contains(ip("::1")));
        assert!(c("192.168.1.0/24").contains(ip("192.168.1.255")));
        assert!(!c("192.168.1.0/24").contains(ip("192.168.2.0")));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("localhost").is_none());
    }

    #[test]
    fn masks_the_database_password() {
        assert_eq!(
            mask_url_password("postgres://lk:s3cr@t@db.example:5432/auth?sslmode=verify-full"),
            "postgres://lk:********@db.example:5432/auth?sslmode=verify-full"
        );
        assert_eq!(
            mask_url_password("postgres://lk@db/auth"),
            "postgres://lk@db/auth"
        );
        assert_eq!(mask_url_password(""), "");
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
