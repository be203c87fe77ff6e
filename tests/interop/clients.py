"""Drive a running latchkey with real, unmodified client libraries.

usage: clients.py BASE_URL ALGORITHM ISSUER

- Authlib's OAuth2Session: RFC 6749 password grant and refresh_token grant with
  client_secret_basic, then a bearer call.
- PyJWT's PyJWKClient: fetches /.well-known/jwks.json and verifies the access token
  (EdDSA, ES256).
- pyseto: loads the PASERK from /.well-known/paserk.json and verifies a v4.public token.
Exits non-zero (with a traceback) on any mismatch.
"""
import base64
import json
import os
import sys
import uuid

os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"  # plain http on loopback

import jwt
import pyseto
import requests
from authlib.integrations.requests_client import OAuth2Session

base, alg, issuer = sys.argv[1], sys.argv[2], sys.argv[3]
name = "interop" + uuid.uuid4().hex[:8]
password = "correct horse battery staple"

r = requests.post(f"{base}/users", json={"email": f"{name}@example.com", "password": password,
                                         "user_name": name, "role": "user"})
assert r.status_code == 201, r.text

client = OAuth2Session("web", "change-me", token_endpoint_auth_method="client_secret_basic")
token = client.fetch_token(f"{base}/auth/token", username=name, password=password)
assert token["token_type"] == "Bearer", token
assert token["expires_in"] == 1800, token
first_refresh = token["refresh_token"]

me = client.get(f"{base}/users/me")
assert me.status_code == 200 and me.json()["user_name"] == name, me.text

refreshed = client.refresh_token(f"{base}/auth/token", refresh_token=first_refresh)
assert refreshed["refresh_token"] != first_refresh
access = refreshed["access_token"]
assert client.get(f"{base}/users/me").status_code == 200

# RFC 7662 / RFC 7009 through Authlib's own helpers.
info = client.introspect_token(f"{base}/oauth/introspect", token=access).json()
assert info["active"] is True and info["token_type"] == "access_token", info
spare = client.fetch_token(f"{base}/auth/token", username=name, password=password)
assert client.revoke_token(f"{base}/oauth/revoke", token=spare["refresh_token"],
                           token_type_hint="refresh_token").status_code == 200
info = client.introspect_token(f"{base}/oauth/introspect", token=spare["refresh_token"]).json()
assert info == {"active": False}, info

# A wrong client secret is refused the way OAuth2 clients expect.
bad = OAuth2Session("web", "wrong", token_endpoint_auth_method="client_secret_basic")
try:
    bad.fetch_token(f"{base}/auth/token", username=name, password=password)
    raise AssertionError("wrong client secret accepted")
except Exception as e:  # authlib raises OAuthError(invalid_client)
    assert "invalid_client" in str(e), e

if alg in ("EdDSA", "ES256"):
    jwks = jwt.PyJWKClient(f"{base}/.well-known/jwks.json")
    key = jwks.get_signing_key_from_jwt(access)
    claims = jwt.decode(access, key.key, algorithms=[alg], issuer=issuer,
                        options={"require": ["exp", "iat", "sub", "iss", "jti"]})
    assert claims["amr"] == ["pwd"] and claims["role"] == "user", claims
    assert claims["sub"] == me.json()["id"], claims
    # Tampering is caught by the library too.
    head, body, sig = access.split(".")
    forged = json.loads(base64.urlsafe_b64decode(body + "=="))
    forged["role"] = "admin"
    forged_body = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    try:
        jwt.decode(f"{head}.{forged_body}.{sig}", key.key, algorithms=[alg], issuer=issuer)
        raise AssertionError("tampered token verified")
    except jwt.InvalidSignatureError:
        pass
elif alg == "v4.public":
    assert access.startswith("v4.public."), access
    footer = json.loads(base64.urlsafe_b64decode(access.split(".")[3] + "=="))
    keys = requests.get(f"{base}/.well-known/paserk.json").json()["keys"]
    entry = next(k for k in keys if k["kid"] == footer["kid"])
    public = pyseto.Key.from_paserk(entry["paserk"])
    assert public.to_paserk_id() == footer["kid"], "kid is the PASERK id of the key"
    decoded = pyseto.decode(public, access, deserializer=json)
    claims = decoded.payload
    assert claims["iss"] == issuer and claims["amr"] == ["pwd"], claims
    assert claims["exp"].endswith("Z") or "+00:00" in claims["exp"], claims
else:
    raise SystemExit(f"unknown algorithm {alg}")

print(f"interop ok: {alg}")
