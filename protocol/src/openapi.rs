//! The OpenAPI 3.1 description of the mounted families, generated from the adapter table:
//! every path and method comes from [`Table`], and what each route takes and answers is
//! the documentation written beside the route ([`Route::doc`]), so the document cannot
//! drift from the routes.

use serde_json::{json, Map, Value};

use crate::doc::{obj, s, RouteDoc};
use crate::table::{Family, Route, Table};

fn content(schema: Value) -> Value {
    json!({"application/json": {"schema": schema}})
}

fn operation(family: &Family, route: &Route, d: &RouteDoc) -> Value {
    let mut op = Map::new();
    op.insert("summary".into(), json!(d.summary));
    op.insert(
        "operationId".into(),
        json!(format!("{}_{}", family.name, route.name)),
    );
    op.insert("tags".into(), json!([family.name]));
    let mut body = Map::new();
    if let Some(j) = &d.json {
        body.insert("application/json".into(), json!({"schema": j}));
    }
    if let Some(f) = &d.form {
        body.insert(
            "application/x-www-form-urlencoded".into(),
            json!({"schema": f}),
        );
    }
    if !body.is_empty() {
        op.insert(
            "requestBody".into(),
            json!({"required": true, "content": body}),
        );
    }
    let mut params: Vec<Value> = d
        .query
        .iter()
        .map(|q| json!({"name": q, "in": "query", "required": false, "schema": s()}))
        .collect();
    if route.path.ends_with(crate::table::PATH_ID) {
        params.push(json!({"name": "id", "in": "path", "required": true, "schema": s()}));
    }
    if !params.is_empty() {
        op.insert("parameters".into(), json!(params));
    }
    match d.auth {
        Some("bearer") => {
            op.insert("security".into(), json!([{"bearer": []}, {}]));
        }
        Some("basic") => {
            op.insert("security".into(), json!([{"basic": []}, {}]));
        }
        _ => {}
    }
    let mut responses = Map::new();
    let ok = match &d.ok.1 {
        Some(schema) => json!({"description": "success", "content": content(schema.clone())}),
        None => json!({"description": "success, no body"}),
    };
    responses.insert(d.ok.0.to_string(), ok);
    responses.insert("default".into(), json!({"description": format!("an error in the {} family's format", family.name), "content": content((family.error_schema)())}));
    op.insert("responses".into(), Value::Object(responses));
    Value::Object(op)
}

fn builtin(paths: &mut Map<String, Value>) {
    let generic_error = content(obj(&["error"], json!({"error": s()})));
    let get = |summary: &str, schema: Option<Value>, ok: u16| {
        let mut responses = Map::new();
        responses.insert(
            ok.to_string(),
            match schema {
                Some(sc) => json!({"description": "success", "content": content(sc)}),
                None => json!({"description": "success, no body"}),
            },
        );
        responses.insert(
            "default".into(),
            json!({"description": "error", "content": generic_error.clone()}),
        );
        json!({"get": {"summary": summary, "tags": ["server"], "responses": responses}})
    };
    paths.insert(
        "/healthz".into(),
        get(
            "Health",
            Some(obj(&["status"], json!({"status": s()}))),
            200,
        ),
    );
    paths.insert(
        "/.well-known/jwks.json".into(),
        get(
            "JWT public keys (RFC 7517)",
            Some(obj(&["keys"], json!({"keys": {"type": "array"}}))),
            200,
        ),
    );
    paths.insert(
        "/.well-known/paserk.json".into(),
        get(
            "PASETO v4.public keys (PASERK)",
            Some(obj(&["keys"], json!({"keys": {"type": "array"}}))),
            200,
        ),
    );
    paths.insert(
        "/openapi.json".into(),
        get("This document", Some(json!({"type": "object"})), 200),
    );
    let mut fwd = get(
        "Forward-auth for reverse proxies (X-Auth-* headers)",
        None,
        200,
    );
    if let Some(op) = fwd.get_mut("get").and_then(Value::as_object_mut) {
        op.insert("security".into(), json!([{"bearer": []}, {}]));
    }
    paths.insert("/auth/forward".into(), fwd);
}

/// The OpenAPI 3.1 document of `table` as served at `server_url`.
pub fn document(table: &Table, server_url: &str, version: &str) -> Value {
    let mut paths = Map::new();
    builtin(&mut paths);
    for (prefix, family) in table.mounts() {
        for route in family.routes {
            let d = (route.doc)();
            let path = format!("{prefix}{}", route.path);
            if let Some(entry) = paths
                .entry(path)
                .or_insert_with(|| json!({}))
                .as_object_mut()
            {
                entry.insert(
                    route.method.as_str().to_lowercase(),
                    operation(family, route, &d),
                );
            }
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "latchkey", "version": version, "description": "Every mounted route family of this server."},
        "servers": [{"url": server_url}],
        "components": {"securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "basic": {"type": "http", "scheme": "basic"},
        }},
        "paths": paths,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::FAMILIES;

    #[test]
    fn every_route_of_every_family_is_in_the_document() {
        let t = crate::families::mount(
            &[
                ("oauth", "/"),
                ("toolkit", "/api/auth"),
                ("v0", "/api/v0"),
                ("session", "/session"),
            ],
            "http://x",
            8,
        )
        .unwrap();
        let d = document(&t, "http://x", "0");
        assert!(d["paths"]["/api/auth/accounts:signUp"]["post"]["responses"]["201"].is_object());
        assert!(d["paths"]["/users/me"]["get"]["responses"]["default"].is_object());
        assert!(
            d["paths"]["/session/mfa/totp"]["delete"].is_object()
                && d["paths"]["/session/mfa/totp"]["post"].is_object()
        );
        let prefix = |f: &str| match f {
            "oauth" => "",
            "toolkit" => "/api/auth",
            "v0" => "/api/v0",
            _ => "/session",
        };
        for f in FAMILIES {
            for r in f.routes {
                let op = &d["paths"][format!("{}{}", prefix(f.name), r.path)]
                    [r.method.as_str().to_lowercase()];
                assert!(
                    !op["summary"].as_str().unwrap_or("").is_empty(),
                    "{}/{}",
                    f.name,
                    r.name
                );
            }
        }
    }
}
