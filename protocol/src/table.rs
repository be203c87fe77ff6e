//! The protocol-adapter table: mount prefix -> route family -> route.
//!
//! A family is a static description ([`Family`]): its routes, each with its own pure
//! `decode` (request -> [`Call`] or a reply in the family's error format) and its
//! documentation; a [`Call`] carries how its answer is rendered. To add a family, write
//! its module and add one entry to [`crate::families::FAMILIES`]: the configuration's
//! `[families]`, the OpenAPI document and the fuzz entry point all follow from it.

use http::Method;
use serde_json::Value;

use crate::doc::RouteDoc;
use crate::input::{Ctx, Request};
use crate::ops::{Failure, Operation, Outcome};
use crate::reply::Reply;

/// Decodes a request for one route: what to do and how to answer, or a reply in the
/// family's format when the request is malformed.
pub type Decode = fn(&Request) -> Result<Call, Reply>;
/// Renders what the service answered on success.
pub type Render = fn(&Ctx, Outcome) -> Reply;
/// Renders a failure in a family's format.
pub type Refuse = fn(Failure) -> Reply;

/// One route of a family: where it is, how it decodes, how it is documented.
#[derive(Debug)]
pub struct Route {
    /// Method.
    pub method: Method,
    /// Path below the mount prefix, starting with `/`; a last segment [`PATH_ID`]
    /// stands for any one non-empty segment (the route reads it with [`path_id`]).
    pub path: &'static str,
    /// Short name for logs and metrics.
    pub name: &'static str,
    /// Whether the route checks credentials (per-IP rate limit applies).
    pub credential: bool,
    /// Decodes a request for this route.
    pub decode: Decode,
    /// Its OpenAPI documentation.
    pub doc: fn() -> RouteDoc,
}

/// The last segment of a route path that stands for an id (`/passkeys/{id}`).
pub const PATH_ID: &str = "{id}";

/// Whether `rest` (a path below a mount) is what the route path `pattern` describes.
fn path_matches(pattern: &str, rest: &str) -> bool {
    match pattern.strip_suffix(PATH_ID) {
        Some(prefix) => path_id(prefix, rest).is_some(),
        None => pattern == rest,
    }
}

/// The id segment of `path` below `prefix` (`/passkeys/`): one non-empty segment.
pub fn path_id<'p>(prefix: &str, path: &'p str) -> Option<&'p str> {
    path.strip_prefix(prefix)
        .filter(|id| !id.is_empty() && !id.contains('/'))
}

/// A route family.
#[derive(Debug)]
pub struct Family {
    /// Name as in `auth.toml` `[families]`.
    pub name: &'static str,
    /// Default mount prefix.
    pub default_mount: &'static str,
    /// Routes.
    pub routes: &'static [Route],
    /// Renders every failure in the family's format (and those that happen before a
    /// request was decoded: too large, rate limited, timeout, internal error).
    pub reject: Refuse,
    /// The JSON schema of the family's error bodies (OpenAPI).
    pub error_schema: fn() -> Value,
}

/// A decoded request: what the service is to do, and how the answer is rendered.
#[derive(Debug, Clone)]
pub struct Call {
    /// The operation.
    pub op: Operation,
    /// How the answer is rendered.
    pub answer: Answer,
}

/// How a route renders the service's answer: its success shape, and failures in the
/// family's format unless the route has its own.
#[derive(Debug, Clone, Copy)]
pub struct Answer {
    render: Render,
    refuse: Option<Refuse>,
}

impl Call {
    /// `op`, its success rendered by `render`, failures by the family.
    pub fn new(op: Operation, render: Render) -> Call {
        Call {
            op,
            answer: Answer {
                render,
                refuse: None,
            },
        }
    }

    /// Failures of this call rendered by `refuse` instead of the family's default.
    pub fn refusing_with(mut self, refuse: Refuse) -> Call {
        self.answer.refuse = Some(refuse);
        self
    }
}

impl Answer {
    /// The reply to `result` in `family`'s format.
    pub fn reply(self, family: &Family, ctx: &Ctx, result: Result<Outcome, Failure>) -> Reply {
        match result {
            Ok(outcome) => (self.render)(ctx, outcome),
            Err(f) => self.refuse.unwrap_or(family.reject)(f),
        }
    }
}

/// Why a table could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountError {
    /// No family has this name.
    UnknownFamily(String),
    /// Two families on one prefix (`/` for the root).
    SamePrefix {
        /// The family mounted there first.
        first: &'static str,
        /// The family mounted there second.
        second: &'static str,
        /// The prefix.
        prefix: String,
    },
}

impl std::fmt::Display for MountError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MountError::UnknownFamily(name) => write!(f, "unknown route family `{name}`"),
            MountError::SamePrefix {
                first,
                second,
                prefix,
            } => write!(
                f,
                "families `{first}` and `{second}` are both mounted at `{prefix}`"
            ),
        }
    }
}

impl std::error::Error for MountError {}

/// The families as mounted by the configuration.
#[derive(Debug, Clone)]
pub struct Table {
    // Longest prefix first, so `/api/auth` wins over `/`.
    mounts: Vec<(String, &'static Family, Ctx)>,
}

/// Where a request goes.
#[derive(Debug)]
pub enum Resolved<'t> {
    /// A route of a family.
    Route {
        /// The family.
        family: &'static Family,
        /// The route.
        route: &'static Route,
        /// The path below the mount prefix.
        rest: &'t str,
        /// The family's context at this mount.
        ctx: &'t Ctx,
    },
    /// A known path with another method.
    MethodNotAllowed(Vec<Method>),
    /// Nothing here.
    NotFound,
}

fn normalize_prefix(p: &str) -> String {
    let t = p.trim_end_matches('/');
    if t.is_empty() {
        String::new()
    } else if t.starts_with('/') {
        t.to_owned()
    } else {
        format!("/{t}")
    }
}

impl Table {
    /// Builds the table from `(family, mount prefix)` pairs; families not listed are off.
    /// Two families on the same prefix are refused. `public_url` and
    /// `min_password_length` go into each family's [`Ctx`].
    pub fn new(
        mounts: &[(&'static Family, &str)],
        public_url: &str,
        min_password_length: usize,
    ) -> Result<Table, MountError> {
        let mut out: Vec<(String, &'static Family, Ctx)> = Vec::new();
        for (family, prefix) in mounts {
            let prefix = normalize_prefix(prefix);
            if let Some((_, other, _)) = out.iter().find(|(p, _, _)| *p == prefix) {
                return Err(MountError::SamePrefix {
                    first: other.name,
                    second: family.name,
                    prefix: if prefix.is_empty() {
                        "/".into()
                    } else {
                        prefix
                    },
                });
            }
            let ctx = Ctx {
                base_url: format!("{}{prefix}", public_url.trim_end_matches('/')),
                min_password_length,
            };
            out.push((prefix, family, ctx));
        }
        out.sort_by_key(|(p, _, _)| std::cmp::Reverse(p.len()));
        Ok(Table { mounts: out })
    }

    /// The mounted families with their prefixes (`""` is the root).
    pub fn mounts(&self) -> impl Iterator<Item = (&str, &'static Family)> {
        self.mounts.iter().map(|(p, f, _)| (p.as_str(), *f))
    }

    /// Finds the route for `method` and `path`.
    pub fn resolve<'p>(&'p self, method: &Method, path: &'p str) -> Resolved<'p> {
        let mut allow: Vec<Method> = Vec::new();
        for (prefix, family, ctx) in &self.mounts {
            let Some(rest) = path.strip_prefix(prefix.as_str()) else {
                continue;
            };
            if !rest.starts_with('/') {
                continue;
            }
            for route in family.routes {
                if path_matches(route.path, rest) {
                    if route.method == *method {
                        return Resolved::Route {
                            family,
                            route,
                            rest,
                            ctx,
                        };
                    }
                    allow.push(route.method.clone());
                }
            }
            if !allow.is_empty() {
                return Resolved::MethodNotAllowed(allow);
            }
        }
        Resolved::NotFound
    }

    /// The family mounted at the longest prefix of `path`, if any (for replies to
    /// requests that never reach a route, in the family's format).
    pub fn family_of(&self, path: &str) -> Option<&'static Family> {
        self.mounts
            .iter()
            .find(|(p, _, _)| {
                path.strip_prefix(p.as_str())
                    .is_some_and(|r| r.is_empty() || r.starts_with('/'))
            })
            .map(|(_, f, _)| *f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_resolve_by_prefix_and_method() {
        let t = crate::families::mount(&[("oauth", "/")], "http://x", 8).unwrap();
        match t.resolve(&Method::POST, "/users") {
            Resolved::Route { family, route, .. } => {
                assert_eq!(family.name, "oauth");
                assert_eq!(route.name, "signup");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            t.resolve(&Method::DELETE, "/users"),
            Resolved::MethodNotAllowed(m) if m == vec![Method::POST]
        ));
        assert!(matches!(
            t.resolve(&Method::GET, "/nope"),
            Resolved::NotFound
        ));
        let t = crate::families::mount(&[("oauth", "/v1/")], "http://x", 8).unwrap();
        assert!(matches!(
            t.resolve(&Method::POST, "/users"),
            Resolved::NotFound
        ));
        assert!(matches!(
            t.resolve(&Method::POST, "/v1/users"),
            Resolved::Route { .. }
        ));
        assert!(matches!(
            t.resolve(&Method::POST, "/v1users"),
            Resolved::NotFound
        ));
    }
}
