//! The OpenAPI 3.1 description of the mounted families, generated from the adapter table:
//! every path and method comes from [`Table`], so the document cannot drift from the
//! routes. What each route takes and answers is [`doc`], keyed by family and route name;
//! a test makes sure every route of every family has one.

use serde_json::{json, Map, Value};

use crate::table::{Family, Route, Table};

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

fn s() -> Value {
    json!({"type": "string"})
}
fn ns() -> Value {
    json!({"type": ["string", "null"]})
}
fn obj(required: &[&str], props: Value) -> Value {
    json!({"type": "object", "required": required, "properties": props})
}

fn doc_of(
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

fn oauth_user() -> Value {
    obj(
        &["id", "created_at", "updated_at", "role"],
        json!({"id": s(), "created_at": s(), "updated_at": s(), "user_name": ns(), "email": ns(), "role": s()}),
    )
}
fn seed_token() -> Value {
    obj(
        &[
            "access_token",
            "refresh_token",
            "token_type",
            "expires_in",
            "expires_at",
            "_id",
        ],
        json!({"created_at": s(), "updated_at": s(), "access_token": s(), "expires_at": s(), "expires_in": {"type": "integer"},
               "refresh_token": s(), "token_type": s(), "user_name": ns(), "_id": s()}),
    )
}
fn rfc_token() -> Value {
    obj(
        &["access_token", "token_type", "expires_in", "refresh_token"],
        json!({"access_token": s(), "token_type": s(), "expires_in": {"type": "integer"}, "refresh_token": s()}),
    )
}
fn auth_response() -> Value {
    obj(
        &[
            "localId",
            "idToken",
            "refreshToken",
            "expiresIn",
            "tokenType",
        ],
        json!({"localId": s(), "username": ns(), "displayName": ns(), "email": ns(), "idToken": s(), "refreshToken": s(), "expiresIn": s(), "tokenType": s()}),
    )
}
fn v0_profile(tokens: bool) -> Value {
    let mut p = json!({"id": {"type": "integer"}, "email": ns(), "created_at": s(), "updated_at": s(), "activity_status": {"type": "integer"},
                       "image_url": {"type": "null"}, "user_type": {"type": "integer"}, "first_name": ns(), "last_name": ns(),
                       "birthdate": {"type": "null"}, "code_nationality": {"type": "null"}, "location": {"type": "null"}, "cv": {"type": "object"}});
    let mut req = vec!["id", "activity_status", "cv"];
    if let (true, Some(m)) = (tokens, p.as_object_mut()) {
        m.insert("access_token".into(), s());
        m.insert("refresh_token".into(), s());
        req.extend(["access_token", "refresh_token"]);
    }
    obj(&req, p)
}

/// The documentation of `route` in `family`, if written.
pub fn doc(family: &str, route: &str) -> Option<RouteDoc> {
    let any_json = || Some(json!({"type": "object"}));
    Some(match (family, route) {
        ("oauth", "signup") => doc_of(
            "Create an account",
            Some(obj(
                &["email", "password", "user_name"],
                json!({"email": s(), "password": s(), "user_name": s(), "role": s()}),
            )),
            None,
            (201, Some(oauth_user())),
        ),
        ("oauth", "token") => RouteDoc {
            summary: "Password or refresh_token grant (seed JSON or RFC 6749 form)",
            json: Some(obj(
                &["grant_type"],
                json!({"grant_type": s(), "user_name": s(), "password": s(), "refresh_token": s()}),
            )),
            form: Some(obj(
                &["grant_type"],
                json!({"grant_type": s(), "username": s(), "password": s(), "refresh_token": s(), "scope": s()}),
            )),
            query: &[],
            auth: Some("basic"),
            ok: (200, Some(json!({"oneOf": [seed_token(), rfc_token()]}))),
        },
        ("oauth", "refresh") => doc_of(
            "Rotate a refresh token",
            Some(obj(&["refresh_token"], json!({"refresh_token": s()}))),
            None,
            (200, Some(seed_token())),
        ),
        ("oauth", "me") => doc_of(
            "The current user",
            None,
            Some("bearer"),
            (200, Some(oauth_user())),
        ),
        ("oauth", "introspect") => RouteDoc {
            summary: "RFC 7662 token introspection",
            json: None,
            form: Some(obj(
                &["token"],
                json!({"token": s(), "token_type_hint": s()}),
            )),
            query: &[],
            auth: Some("basic"),
            ok: (
                200,
                Some(obj(&["active"], json!({"active": {"type": "boolean"}}))),
            ),
        },
        ("oauth", "revoke") => RouteDoc {
            summary: "RFC 7009 token revocation",
            json: None,
            form: Some(obj(
                &["token"],
                json!({"token": s(), "token_type_hint": s()}),
            )),
            query: &[],
            auth: Some("basic"),
            ok: (200, None),
        },
        ("toolkit", "signup") => doc_of(
            "Sign up",
            Some(obj(
                &["username", "password"],
                json!({"username": s(), "password": s(), "displayName": s(), "email": s()}),
            )),
            None,
            (201, Some(auth_response())),
        ),
        ("toolkit", "signin") => doc_of(
            "Sign in with username (or email) and password",
            Some(obj(
                &["username", "password"],
                json!({"username": s(), "password": s()}),
            )),
            None,
            (200, Some(auth_response())),
        ),
        ("toolkit", "refresh") => doc_of(
            "Exchange a refresh token",
            Some(obj(&["refreshToken"], json!({"refreshToken": s()}))),
            None,
            (200, Some(auth_response())),
        ),
        ("toolkit", "lookup") => doc_of(
            "The user of an id token",
            Some(obj(&[], json!({"idToken": s()}))),
            Some("bearer"),
            (
                200,
                Some(obj(
                    &["localId", "disabled"],
                    json!({"localId": s(), "username": ns(), "displayName": ns(), "email": ns(), "createdAt": s(), "lastLoginAt": ns(), "disabled": {"type": "boolean"}}),
                )),
            ),
        ),
        ("toolkit", "delete") => doc_of(
            "Delete the account of an id token",
            Some(obj(&[], json!({"idToken": s()}))),
            Some("bearer"),
            (204, None),
        ),
        ("v0", "signup") => doc_of(
            "Register (unverified)",
            Some(obj(
                &[
                    "email",
                    "first_name",
                    "last_name",
                    "password",
                    "password_confirmation",
                ],
                json!({"email": s(), "first_name": s(), "last_name": s(), "password": s(), "password_confirmation": s()}),
            )),
            None,
            (200, Some(obj(&["message"], json!({"message": s()})))),
        ),
        ("v0", "verify") => RouteDoc {
            summary: "Verify credentials (query, body or Basic), activate, start a session",
            json: None,
            form: None,
            query: &["email", "password"],
            auth: Some("basic"),
            ok: (200, Some(v0_profile(true))),
        },
        ("v0", "refresh") => doc_of(
            "Rotate a refresh token",
            Some(obj(&["refresh_token"], json!({"refresh_token": s()}))),
            None,
            (
                200,
                Some(obj(
                    &["access_token", "refresh_token", "expires_at"],
                    json!({"access_token": s(), "refresh_token": s(), "expires_at": s()}),
                )),
            ),
        ),
        ("v0", "profile") => doc_of(
            "The current user's profile",
            None,
            Some("bearer"),
            (200, Some(v0_profile(false))),
        ),
        ("session", "login") => doc_of(
            "Mail a one-time session code",
            Some(obj(&["email"], json!({"email": s()}))),
            None,
            (202, Some(obj(&["status"], json!({"status": s()})))),
        ),
        ("session", "verify") => doc_of(
            "Redeem a session code (and the TOTP or recovery code)",
            Some(obj(
                &["session_code"],
                json!({"session_code": s(), "mfa_code": s()}),
            )),
            None,
            (
                200,
                Some(obj(
                    &["status"],
                    json!({"status": s(), "refresh_token": s(), "user_id": s()}),
                )),
            ),
        ),
        ("session", "token") => doc_of(
            "Access token for a refresh token (rotated)",
            Some(obj(&["refresh_token"], json!({"refresh_token": s()}))),
            None,
            (200, Some(rfc_token())),
        ),
        ("session", "me") => doc_of(
            "The current user",
            None,
            Some("bearer"),
            (
                200,
                Some(obj(
                    &["id", "mfa_enabled", "created_at"],
                    json!({"id": s(), "email": ns(), "mfa_enabled": {"type": "boolean"}, "created_at": s()}),
                )),
            ),
        ),
        ("session", "logout") => doc_of(
            "End the refresh family",
            Some(obj(&["refresh_token"], json!({"refresh_token": s()}))),
            None,
            (204, None),
        ),
        ("session", "totp_enroll") => doc_of(
            "Start TOTP enrolment",
            any_json(),
            Some("bearer"),
            (
                200,
                Some(obj(
                    &["secret", "otpauth_url"],
                    json!({"secret": s(), "otpauth_url": s()}),
                )),
            ),
        ),
        ("session", "totp_confirm") => doc_of(
            "Confirm TOTP with a first code; answers the recovery codes",
            Some(obj(&["code"], json!({"code": s()}))),
            Some("bearer"),
            (
                200,
                Some(obj(
                    &["mfa_enabled", "recovery_codes"],
                    json!({"mfa_enabled": {"type": "boolean"}, "recovery_codes": {"type": "array", "items": s()}}),
                )),
            ),
        ),
        ("session", "totp_disable") => doc_of(
            "Turn TOTP off",
            Some(obj(&["code"], json!({"code": s()}))),
            Some("bearer"),
            (204, None),
        ),
        ("session", "recovery_codes") => doc_of(
            "Replace the recovery codes",
            Some(obj(&["code"], json!({"code": s()}))),
            Some("bearer"),
            (
                200,
                Some(obj(
                    &["recovery_codes"],
                    json!({"recovery_codes": {"type": "array", "items": s()}}),
                )),
            ),
        ),
        _ => return None,
    })
}

/// Each family's error body.
fn error_schema(family: &str) -> Value {
    match family {
        "toolkit" => obj(
            &["error"],
            json!({"error": obj(&["code", "message"], json!({"code": {"type": "integer"}, "message": s()}))}),
        ),
        "v0" => obj(&["error"], json!({"error": {"type": ["object", "string"]}})),
        "session" => {
            json!({"type": "object", "properties": {"error": s(), "status": s(), "error_description": s()}})
        }
        _ => obj(&["error"], json!({"error": s(), "error_description": s()})),
    }
}

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
    if !d.query.is_empty() {
        let params: Vec<Value> = d
            .query
            .iter()
            .map(|q| json!({"name": q, "in": "query", "required": false, "schema": s()}))
            .collect();
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
    responses.insert("default".into(), json!({"description": format!("an error in the {} family's format", family.name), "content": content(error_schema(family.name))}));
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
            let Some(d) = doc(family.name, route.name) else {
                continue;
            };
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
    use crate::table::FAMILIES;

    #[test]
    fn every_route_of_every_family_is_documented() {
        for f in FAMILIES {
            for r in f.routes {
                assert!(
                    doc(f.name, r.name).is_some(),
                    "{}/{} has no OpenAPI doc",
                    f.name,
                    r.name
                );
            }
        }
        let t = Table::new(
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
    }
}
