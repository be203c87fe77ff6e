//! What the families ask of the service ([`Operation`]) and what it answers ([`Outcome`],
//! [`Failure`]). Family-neutral: each family translates to and from these.

/// A secret given by a client (password, client secret). Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// OAuth client credentials from an `Authorization: Basic` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    /// Client id.
    pub id: String,
    /// Client secret (form-decoded, RFC 6749 §2.3.1).
    pub secret: Secret,
    /// The secret exactly as sent, when form-decoding changed it: many clients put a
    /// secret holding `+` or `%` in the header without encoding it, and their secret is
    /// this one. Both are compared (in constant time).
    pub raw_secret: Option<Secret>,
}

impl ClientCredentials {
    /// The secrets this client may have meant: the decoded one, and the raw one when it
    /// differs.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.secret.0.as_str())
            .chain(self.raw_secret.as_ref().map(|s| s.0.as_str()))
    }
}

/// The bearer token of a request, as far as the header goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bearer {
    /// No bearer credentials at all.
    Missing,
    /// An `Authorization: Bearer` header that is not a well-formed token.
    Malformed,
    /// A syntactically acceptable token (not yet verified).
    Token(String),
}

/// A user to create.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewUser {
    /// Email, already checked for syntax.
    pub email: Option<String>,
    /// Username, already checked for syntax.
    pub username: Option<String>,
    /// Password (strength is the service's to judge).
    pub password: Option<Secret>,
    /// Requested role; `None` means the default role.
    pub role: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Given names.
    pub first_name: Option<String>,
    /// Surname.
    pub last_name: Option<String>,
    /// Created unverified: it must be activated (`v0` verify) before it can sign in.
    pub unverified: bool,
}

/// How a password sign-in's second factor is given, when the account has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecondFactor {
    /// In the same request (`oauth`, `v0`): `None` when the client sent none.
    Inline(Option<String>),
    /// In a second request, with a pending credential the first answers (`toolkit`).
    Later,
}

/// An operation for the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Create an account; with `sign_in`, also start a refresh family and answer tokens.
    SignUp {
        /// The account.
        user: NewUser,
        /// Start a session at once.
        sign_in: bool,
    },
    /// Check a password and start a refresh family.
    PasswordSignIn {
        /// Username or email.
        login: String,
        /// The password.
        password: Secret,
        /// Client credentials, when the route requires client authentication.
        client: Option<ClientCredentials>,
        /// Activate an unverified account on success (`v0` verify).
        activate: bool,
        /// The second factor, for an account that has one.
        second: SecondFactor,
    },
    /// Finish a sign-in whose first factor was accepted (`toolkit`'s
    /// `mfaSignIn:finalize`) with a TOTP or recovery code.
    MfaFinalize {
        /// The pending credential the first step answered.
        pending: String,
        /// The TOTP or recovery code.
        code: String,
    },
    /// Redeem an email-verification code given alone (no session: `toolkit`'s
    /// `accounts:update {oobCode}`).
    VerifyEmailCode {
        /// The mailed code.
        code: String,
    },
    /// Mail a password-reset code to `email`; answered alike whether or not an account
    /// has that address.
    ForgotPassword {
        /// The address (syntax already checked).
        email: String,
    },
    /// Set a new password with a mailed reset code.
    ResetPassword {
        /// The address the code was mailed to; `None` where the dialect sends the code
        /// alone (`toolkit`'s `oobCode`).
        email: Option<String>,
        /// The mailed code.
        code: String,
        /// The new password.
        new_password: Secret,
    },
    /// Rotate a refresh token.
    Refresh {
        /// The presented refresh token.
        refresh_token: String,
        /// Client credentials, when the route requires client authentication.
        client: Option<ClientCredentials>,
    },
    /// Mail a one-time session code to `email`.
    RequestCode {
        /// The address (syntax already checked).
        email: String,
    },
    /// Redeem a session code, with the TOTP code when the account has MFA.
    RedeemCode {
        /// The session code as typed.
        code: String,
        /// The TOTP code, if given.
        mfa_code: Option<String>,
    },
    /// Revoke the family of a refresh token.
    Logout {
        /// The presented refresh token.
        refresh_token: String,
    },
    /// RFC 7662: what is this token (access or refresh), and is it active?
    Introspect {
        /// The token.
        token: String,
        /// `access_token` or `refresh_token`, if the client said.
        hint: Option<String>,
        /// Client credentials (required).
        client: ClientCredentials,
    },
    /// RFC 7009: revoke this token (its whole refresh family).
    Revoke {
        /// The token.
        token: String,
        /// Client credentials (required).
        client: ClientCredentials,
    },
    /// Start a sign-in with a passkey (no account named: discoverable credentials).
    PasskeyLoginStart,
    /// Finish a sign-in with a passkey.
    PasskeyLoginFinish {
        /// The ceremony the start answered.
        ceremony: String,
        /// The `AuthenticationResponseJSON`, untouched.
        credential: serde_json::Value,
    },
    /// What a signed-in user asks for, with the access token the request presented (the
    /// service authenticates it once, at its edge, into the caller it acts for).
    AsUser {
        /// The presented access token.
        bearer: Bearer,
        /// What is asked.
        op: UserOp,
    },
}

impl Operation {
    /// `op`, asked with the access token `bearer`.
    pub fn as_user(bearer: Bearer, op: UserOp) -> Operation {
        Operation::AsUser { bearer, op }
    }
}

/// What a signed-in user asks for. Whoever the user is was decided before (a bearer token
/// through [`Operation::AsUser`], the portal's cookie): these carry no credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserOp {
    /// Mail a code that proves the caller's email address.
    VerifyEmailStart,
    /// Redeem that code: the address is proven.
    VerifyEmail {
        /// The mailed code.
        code: String,
    },
    /// Change the caller's password.
    ChangePassword {
        /// How the person shows it is still them.
        reauth: Reauth,
        /// The new password.
        new_password: Secret,
        /// Answer fresh tokens (every family revoked, the caller's too) instead of keeping
        /// the caller's family (`toolkit`'s `accounts:update`).
        fresh_tokens: bool,
    },
    /// Start changing the caller's email: a code to the new address, a notice to the old.
    ChangeEmailStart {
        /// The new address (syntax already checked).
        email: String,
    },
    /// Switch to the new address with the code mailed to it.
    ChangeEmailConfirm {
        /// The mailed code.
        code: String,
    },
    /// The user the caller is.
    CurrentUser,
    /// Delete the account the caller is, with all its families.
    DeleteAccount,
    /// Start TOTP enrolment for the caller's account.
    TotpEnroll,
    /// Confirm a pending TOTP enrolment with a first code.
    TotpConfirm {
        /// The TOTP code.
        code: String,
    },
    /// Replace the recovery codes, proven by a current TOTP code.
    RecoveryCodes {
        /// The TOTP code.
        code: String,
    },
    /// Switch TOTP off, proven by a current code.
    TotpDisable {
        /// The TOTP code.
        code: String,
    },
    /// Start registering a passkey for the caller's account.
    PasskeyRegisterStart,
    /// Finish a passkey registration with the authenticator's answer.
    PasskeyRegisterFinish {
        /// The ceremony the start answered.
        ceremony: String,
        /// The name to give the passkey, if any.
        name: Option<String>,
        /// The `RegistrationResponseJSON`, untouched (the service parses it).
        credential: serde_json::Value,
    },
    /// The caller's passkeys.
    PasskeyList,
    /// Rename one of the caller's passkeys.
    PasskeyRename {
        /// The passkey's id (base64url of the credential id).
        id: String,
        /// The new name.
        name: String,
    },
    /// Remove one of the caller's passkeys.
    PasskeyDelete {
        /// The passkey's id (base64url of the credential id).
        id: String,
    },
}

/// A passkey as the families show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyView {
    /// base64url (no padding) of the credential id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it was registered, Unix milliseconds.
    pub created_at: i64,
    /// When it last signed in, Unix milliseconds.
    pub last_used_at: Option<i64>,
}

/// How a signed-in person proves, before a password change, that it is still them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reauth {
    /// The current password; an account without one may leave it out, and then needs a
    /// sign-in of the last minutes (as [`Reauth::RecentSignIn`]).
    Password(Option<Secret>),
    /// A sign-in of the last minutes (the identity-toolkit's rule).
    RecentSignIn,
}

/// A user as the families may show it: never a password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserView {
    /// Opaque id (`sub`).
    pub id: String,
    /// Integer id (`v0`).
    pub num: u64,
    /// Email.
    pub email: Option<String>,
    /// Username.
    pub username: Option<String>,
    /// Display name.
    pub display_name: Option<String>,
    /// Given names.
    pub first_name: Option<String>,
    /// Surname.
    pub last_name: Option<String>,
    /// Role.
    pub role: String,
    /// `active`, `unverified`, `disabled` or `blocked`.
    pub state: &'static str,
    /// Created, Unix milliseconds.
    pub created_at: i64,
    /// Updated, Unix milliseconds.
    pub updated_at: i64,
    /// Last sign-in, Unix milliseconds.
    pub last_login_at: Option<i64>,
    /// Whether TOTP is on.
    pub mfa_enabled: bool,
    /// Whether the email was proven by a mailed code.
    pub email_verified: bool,
}

/// A freshly issued token pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tokens {
    /// The access token (JWT or PASETO).
    pub access_token: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: u64,
    /// When the access token was issued, Unix milliseconds.
    pub issued_at: i64,
    /// When the access token expires, Unix milliseconds.
    pub expires_at: i64,
    /// The new refresh token.
    pub refresh_token: String,
    /// The refresh family (`sid`).
    pub family_id: String,
    /// When the family started, Unix milliseconds.
    pub family_created_at: i64,
    /// The user.
    pub user: UserView,
}

/// What the service answers on success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A user.
    User(UserView),
    /// A token pair.
    Tokens(Tokens),
    /// A session whose one token is `token` (a browser's session cookie), given this
    /// once; it ends at `expires_at` (Unix milliseconds) unless renewed. No family
    /// answers it: the portal's sign-ins do.
    Session {
        /// The account.
        user: UserView,
        /// The session's token.
        token: String,
        /// Its end, Unix milliseconds.
        expires_at: i64,
    },
    /// Done; nothing to show.
    Done,
    /// A session code was mailed (or, for an unknown address, an explanation).
    CodeSent,
    /// The session code is good; the account wants its TOTP code too.
    MfaRequired,
    /// The password is right; the sign-in finishes with the second factor and this
    /// credential (single use, 5 minutes, 5 wrong codes).
    MfaPending {
        /// The pending credential.
        credential: String,
        /// The account.
        user_id: String,
    },
    /// A code was mailed to `email` (a reset code, or a verification code); for a reset,
    /// answered alike whether or not an account has the address.
    MailedTo {
        /// The address, as asked for.
        email: String,
    },
    /// The email is proven now.
    EmailVerified {
        /// The proven address.
        email: String,
    },
    /// The password was reset with a mailed code.
    PasswordReset {
        /// The account's address.
        email: String,
    },
    /// The password was changed; the caller's session stays.
    PasswordChanged,
    /// The account's address changed (and is proven).
    EmailChanged {
        /// The new address.
        email: String,
    },
    /// A TOTP secret to enrol, shown once.
    TotpEnrollment {
        /// The secret in base32.
        secret: String,
        /// The `otpauth://` URL for authenticator apps.
        otpauth_url: String,
    },
    /// TOTP is on now; the recovery codes, shown this once.
    MfaEnabled {
        /// Single-use codes accepted in place of a TOTP code.
        recovery_codes: Vec<String>,
    },
    /// A new set of recovery codes (the old ones are void), shown this once.
    RecoveryCodes(Vec<String>),
    /// RFC 7662 answer; `None`: not active.
    Introspection(Option<Box<Introspection>>),
    /// A WebAuthn ceremony to run in the browser or authenticator.
    PasskeyChallenge {
        /// The ceremony's id, to send back with the answer.
        ceremony: String,
        /// `PublicKeyCredentialCreationOptionsJSON` or `...RequestOptionsJSON`.
        public_key: serde_json::Value,
    },
    /// A passkey registered (or renamed).
    Passkey(PasskeyView),
    /// The account's passkeys, oldest first.
    Passkeys(Vec<PasskeyView>),
}

/// An active token, as RFC 7662 describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Introspection {
    /// `access_token` or `refresh_token`.
    pub token_type: &'static str,
    /// The user id.
    pub sub: String,
    /// The user's username or email.
    pub username: Option<String>,
    /// The refresh family.
    pub sid: String,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issue time, Unix seconds.
    pub iat: i64,
    /// Issuer.
    pub iss: String,
    /// Token id (access tokens).
    pub jti: Option<String>,
    /// Role.
    pub role: String,
    /// Authentication methods of the sign-in.
    pub amr: Vec<String>,
    /// The user's groups, sorted.
    pub groups: Vec<String>,
    /// The client that asked.
    pub client_id: String,
}

/// A refusal that says nothing about what the request meant: the server or the
/// transport decided. Every family renders these alike (in its own envelope), and the
/// portal and the admin API too: [`Transport::status`] and [`Transport::code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Too many requests from this client.
    RateLimited {
        /// Seconds until it may be tried again.
        retry_after: u64,
    },
    /// The server sheds load.
    Overloaded {
        /// Seconds until it may be tried again.
        retry_after: u64,
    },
    /// The request body is over `server.max_body`.
    PayloadTooLarge,
    /// The request took longer than the server allows.
    Timeout,
    /// Something failed inside the server (details only in its log).
    Internal,
}

impl Transport {
    /// The HTTP status.
    pub fn status(self) -> http::StatusCode {
        use http::StatusCode;
        match self {
            Transport::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Transport::Overloaded { .. } | Transport::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            Transport::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Transport::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Its code in the default answer (snake_case).
    pub fn code(self) -> &'static str {
        match self {
            Transport::RateLimited { .. } => "rate_limited",
            Transport::Overloaded { .. } | Transport::Timeout => "temporarily_unavailable",
            Transport::PayloadTooLarge => "payload_too_large",
            Transport::Internal => "server_error",
        }
    }

    /// Seconds to wait before trying again, when the refusal says.
    pub fn retry_after(self) -> Option<u64> {
        match self {
            Transport::RateLimited { retry_after } | Transport::Overloaded { retry_after } => {
                Some(retry_after)
            }
            _ => None,
        }
    }
}

/// Why the service refused. Each family maps every variant to its wire format in exactly
/// one function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The password does not meet the policy.
    WeakPassword,
    /// The email is taken.
    EmailTaken,
    /// The username is taken.
    UsernameTaken,
    /// The requested role may not be chosen at sign-up.
    RoleNotAllowed,
    /// Client authentication failed.
    InvalidClient,
    /// Unknown user or wrong password (one answer for both).
    InvalidCredentials,
    /// The refresh token is unknown, revoked, spent or otherwise unusable.
    RefreshInvalid,
    /// The refresh token expired.
    RefreshExpired,
    /// No bearer token.
    MissingToken,
    /// The access token is invalid (bad signature, wrong issuer, revoked, user gone...).
    TokenInvalid,
    /// The access token expired.
    TokenExpired,
    /// The account is disabled.
    Disabled,
    /// The account is blocked.
    Blocked,
    /// The account is not verified yet.
    Unverified,
    /// Too many failures for this account; sign-in is locked for a while.
    LockedOut {
        /// Seconds until it may be tried again.
        retry_after: u64,
    },
    /// The server or the transport refused, whatever the request meant.
    Transport(Transport),
    /// The email address is malformed, or the mail server refused it.
    InvalidEmail,
    /// The mail server cannot be reached or failed.
    MailUnavailable,
    /// The session code is unknown, expired or spent.
    InvalidSessionCode,
    /// The TOTP code is wrong or was used already.
    InvalidMfaCode,
    /// There is no pending TOTP enrolment to confirm.
    MfaNotPending,
    /// TOTP is on already.
    MfaAlreadyEnabled,
    /// TOTP is not on.
    MfaNotEnabled,
    /// The account has a second factor and none was given with the password.
    MfaRequired,
    /// The MFA pending credential is unknown, spent or expired.
    InvalidMfaPending,
    /// A mailed proof code is wrong, spent or expired.
    InvalidCode,
    /// The change needs a fresher sign-in (or the current password).
    ReauthRequired,
    /// A passkey ceremony failed: a bad signature, origin or relying party, an unknown
    /// credential, a spent or expired ceremony, a counter that went backwards.
    InvalidPasskey,
    /// No such passkey on this account.
    PasskeyNotFound,
    /// The account's last way in: removing it would lock its owner out.
    LastSignInMethod,
    /// A field of an account is not acceptable (see [`crate::fields`]).
    InvalidField(FieldError),
}

/// What is wrong with which field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name as the JSON of the admin API and import files spell it.
    pub field: &'static str,
    /// What is wrong, and what would be right.
    pub why: &'static str,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.why)
    }
}

impl std::error::Error for FieldError {}

impl Failure {
    /// The default answer to this failure: its HTTP status, a snake_case code and a
    /// sentence. A family renders in its own envelope what it has no word of its own for
    /// (a failure added after it was written) with these, so a new failure is one
    /// variant and one line here.
    pub fn default_answer(&self) -> (http::StatusCode, &'static str, &'static str) {
        use http::StatusCode as S;
        match self {
            Failure::WeakPassword => (S::BAD_REQUEST, "weak_password", "the password is too weak"),
            Failure::EmailTaken => (S::CONFLICT, "email_taken", "the email address is taken"),
            Failure::UsernameTaken => (S::CONFLICT, "username_taken", "the username is taken"),
            Failure::RoleNotAllowed => (
                S::FORBIDDEN,
                "role_not_allowed",
                "this role cannot be chosen at sign-up",
            ),
            Failure::InvalidClient => (
                S::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            ),
            Failure::InvalidCredentials => (
                S::UNAUTHORIZED,
                "invalid_credentials",
                "wrong login or password",
            ),
            Failure::RefreshInvalid => (
                S::BAD_REQUEST,
                "invalid_grant",
                "the refresh token is invalid",
            ),
            Failure::RefreshExpired => {
                (S::BAD_REQUEST, "invalid_grant", "the refresh token expired")
            }
            Failure::MissingToken => (
                S::UNAUTHORIZED,
                "missing_token",
                "a bearer token is required",
            ),
            Failure::TokenInvalid => (S::UNAUTHORIZED, "invalid_token", "invalid access token"),
            Failure::TokenExpired => (S::UNAUTHORIZED, "invalid_token", "the access token expired"),
            Failure::Disabled => (S::FORBIDDEN, "account_disabled", "the account is disabled"),
            Failure::Blocked => (S::FORBIDDEN, "account_blocked", "the account is blocked"),
            Failure::Unverified => (
                S::FORBIDDEN,
                "account_unverified",
                "the account is not activated yet",
            ),
            Failure::LockedOut { .. } => (
                S::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "too many failed attempts; try later",
            ),
            Failure::Transport(t) => (t.status(), t.code(), "the server cannot answer now"),
            Failure::InvalidEmail => (
                S::BAD_REQUEST,
                "invalid_email",
                "the email address cannot be used",
            ),
            Failure::MailUnavailable => (
                S::SERVICE_UNAVAILABLE,
                "mail_unavailable",
                "mail cannot be sent now",
            ),
            Failure::InvalidSessionCode => (
                S::BAD_REQUEST,
                "invalid_session_code",
                "the code is wrong, expired or spent",
            ),
            Failure::InvalidMfaCode => (
                S::BAD_REQUEST,
                "invalid_mfa_code",
                "the second factor is wrong",
            ),
            Failure::MfaNotPending => (S::CONFLICT, "mfa_not_pending", "no enrolment to confirm"),
            Failure::MfaAlreadyEnabled => (S::CONFLICT, "mfa_already_enabled", "TOTP is on"),
            Failure::MfaNotEnabled => (S::CONFLICT, "mfa_not_enabled", "TOTP is not on"),
            Failure::MfaRequired => (
                S::UNAUTHORIZED,
                "mfa_required",
                "a second factor is required",
            ),
            Failure::InvalidMfaPending => (
                S::UNAUTHORIZED,
                "invalid_mfa_pending",
                "the pending sign-in is unknown, spent or expired",
            ),
            Failure::InvalidCode => (
                S::BAD_REQUEST,
                "invalid_code",
                "the code is wrong, expired or spent",
            ),
            Failure::ReauthRequired => (
                S::UNAUTHORIZED,
                "reauthentication_required",
                "sign in again first",
            ),
            Failure::InvalidPasskey => (S::BAD_REQUEST, "invalid_passkey", "the passkey failed"),
            Failure::PasskeyNotFound => (S::NOT_FOUND, "not_found", "no such passkey"),
            Failure::LastSignInMethod => (
                S::CONFLICT,
                "last_sign_in_method",
                "the account's last way in",
            ),
            Failure::InvalidField(_) => (
                S::BAD_REQUEST,
                "invalid_request",
                "a field is not acceptable",
            ),
        }
    }
}
