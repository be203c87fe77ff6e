//! Requests latchkey makes itself (to an upstream OpenID Provider): hyper's client over
//! rustls with the platform's roots (and a CA file for a private provider), bounded in
//! time and size, never following a redirect. Every answer is read whole into memory, at
//! most [`MAX_ANSWER`] bytes, within [`TIMEOUT`] from the first byte sent.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The longest a request may take, connection and answer included.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read.
pub const MAX_ANSWER: usize = 1 << 20;

/// Why a request brought no answer to read.
#[derive(Debug)]
pub enum OutboundError {
    /// The TLS set-up (the CA file, the platform's roots) failed.
    Setup(String),
    /// The URL cannot be asked (not http(s), or plain http where https is wanted).
    Url(String),
    /// No answer within [`TIMEOUT`].
    Timeout,
    /// The connection failed or broke.
    Transport(String),
    /// The answer is over [`MAX_ANSWER`] bytes.
    TooLarge,
}

impl std::fmt::Display for OutboundError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutboundError::Setup(e) => write!(f, "TLS set-up: {e}"),
            OutboundError::Url(u) => write!(f, "cannot ask {u}"),
            OutboundError::Timeout => write!(f, "no answer within {} s", TIMEOUT.as_secs()),
            OutboundError::Transport(e) => write!(f, "connection: {e}"),
            OutboundError::TooLarge => write!(f, "answer over {MAX_ANSWER} bytes"),
        }
    }
}

impl std::error::Error for OutboundError {}

/// An answer: its status, its `Content-Type` and its body.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The status (a redirect is an answer like any other: not followed).
    pub status: StatusCode,
    /// The body.
    pub body: Bytes,
}

/// A client for one peer's URLs: plain http only when `allow_http` (an issuer the
/// operator wrote as http).
#[derive(Clone)]
pub struct Outbound {
    client: Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    allow_http: bool,
}

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbound")
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

/// The PEM certificates of `path`.
fn read_ca(path: &Path) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, OutboundError> {
    use rustls::pki_types::pem::PemObject as _;
    let certs: Result<Vec<_>, _> = rustls::pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| OutboundError::Setup(format!("{}: {e}", path.display())))?
        .collect();
    let certs = certs.map_err(|e| OutboundError::Setup(format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(OutboundError::Setup(format!(
            "{}: no PEM certificate in it",
            path.display()
        )));
    }
    Ok(certs)
}

impl Outbound {
    /// A client trusting the platform's roots, and those of `ca_file` when given.
    pub fn new(ca_file: Option<&Path>, allow_http: bool) -> Result<Outbound, OutboundError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let extra = match ca_file {
            Some(p) => read_ca(p)?,
            None => Vec::new(),
        };
        let verifier =
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider.clone())
                .map_err(|e| OutboundError::Setup(e.to_string()))?;
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| OutboundError::Setup(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(TIMEOUT));
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(4)
            .build(connector);
        Ok(Outbound { client, allow_http })
    }

    /// Whether `url` may be asked.
    pub fn may_ask(&self, url: &url::Url) -> bool {
        match url.scheme() {
            "https" => url.host().is_some(),
            "http" => self.allow_http && url.host().is_some(),
            _ => false,
        }
    }

    /// `GET url` with `Accept: application/json` and, when given, a bearer token.
    pub async fn get(&self, url: &url::Url, bearer: Option<&str>) -> Result<Answer, OutboundError> {
        let mut req = Request::builder()
            .method(Method::GET)
            .uri(url.as_str())
            .header(header::ACCEPT, "application/json");
        if let Some(t) = bearer {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        self.send(url, req, Bytes::new()).await
    }

    /// `POST url` of a form, with HTTP Basic client authentication (RFC 6749 §2.3.1:
    /// both parts form-urlencoded first).
    pub async fn post_form(
        &self,
        url: &url::Url,
        form: &[(&str, &str)],
        basic: (&str, &str),
    ) -> Result<Answer, OutboundError> {
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let user_pass = format!("{}:{}", enc(basic.0), enc(basic.1));
        let mut auth = HeaderValue::try_from(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass.as_bytes())
        ))
        .map_err(|_| OutboundError::Url("client credentials unfit for a header".into()))?;
        auth.set_sensitive(true);
        let req = Request::builder()
            .method(Method::POST)
            .uri(url.as_str())
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::AUTHORIZATION, auth);
        self.send(url, req, Bytes::from(body)).await
    }

    /// `POST url` of a JSON `body` with `headers` besides (a webhook's).
    pub async fn post_json(
        &self,
        url: &url::Url,
        body: &str,
        headers: &[(&str, &str)],
    ) -> Result<Answer, OutboundError> {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(url.as_str())
            .header(header::CONTENT_TYPE, "application/json");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        self.send(url, req, Bytes::from(body.to_owned())).await
    }

    async fn send(
        &self,
        url: &url::Url,
        req: http::request::Builder,
        body: Bytes,
    ) -> Result<Answer, OutboundError> {
        if !self.may_ask(url) {
            return Err(OutboundError::Url(format!(
                "{}://{}",
                url.scheme(),
                url.host_str().unwrap_or("")
            )));
        }
        let req = req
            .header(
                header::USER_AGENT,
                concat!("latchkey/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(body))
            .map_err(|e| OutboundError::Url(e.to_string()))?;
        let exchange = async {
            let resp = self
                .client
                .request(req)
                .await
                .map_err(|e| OutboundError::Transport(error_chain(&e)))?;
            let status = resp.status();
            let body = Limited::new(resp.into_body(), MAX_ANSWER)
                .collect()
                .await
                .map_err(|e| {
                    if e.downcast_ref::<http_body_util::LengthLimitError>()
                        .is_some()
                    {
                        OutboundError::TooLarge
                    } else {
                        OutboundError::Transport(e.to_string())
                    }
                })?
                .to_bytes();
            Ok(Answer { status, body })
        };
        tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| OutboundError::Timeout)?
    }
}

/// An error and its causes, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}
