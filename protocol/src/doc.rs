//! How a route is documented for the OpenAPI description: each family writes its routes'
//! documentation beside the routes, with these small schema helpers.

use serde_json::{json, Value};

/// How a route is documented.
#[derive(Debug, Clone)]
pub struct RouteDoc {
    /// One line.
    pub summary: &'static str,
    /// JSON request body schema, if any.
    pub json: Option<Value>,
    /// Form request body schema, if any.
    pub form: Option<Value>,
    /// Query parameters (all strings, optional).
    pub query: &'static [&'static str],
    /// `bearer`, `basic` or none.
    pub auth: Option<&'static str>,
    /// Success status and body schema (`None`: no body).
    pub ok: (u16, Option<Value>),
}

impl RouteDoc {
    /// A route taking an optional JSON body and the given authentication.
    pub fn new(
        summary: &'static str,
        json_body: Option<Value>,
        auth: Option<&'static str>,
        ok: (u16, Option<Value>),
    ) -> RouteDoc {
        RouteDoc {
            summary,
            json: json_body,
            form: None,
            query: &[],
            auth,
            ok,
        }
    }
}

/// A string.
pub fn s() -> Value {
    json!({"type": "string"})
}

/// A string or null.
pub fn ns() -> Value {
    json!({"type": ["string", "null"]})
}

/// An object with these required members and properties.
pub fn obj(required: &[&str], props: Value) -> Value {
    json!({"type": "object", "required": required, "properties": props})
}

/// Any JSON object.
pub fn any_object() -> Value {
    json!({"type": "object"})
}
