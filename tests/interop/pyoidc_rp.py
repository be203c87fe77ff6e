"""pyoidc (the `oic` package) as an unmodified relying party of latchkey's OpenID Connect
provider: discovery, the authorization code flow with PKCE, the id token checked
against the JWKS, userinfo by its default call (POST, the token in the body) and by GET,
refresh, the form_post response mode, RP-initiated logout.

The browser's part is the test's (tests/it/interop.rs): this script prints what a browser
would be sent to and reads back what the browser came back with, a line each:

    AUTH <url>        -> CALLBACK <query of the redirect>
    AUTH_FP <url>     -> FORM <the posted form, urlencoded>
    LOGOUT <url>      -> LOGGED_OUT <query of the post-logout redirect>

usage: pyoidc_rp.py ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI POST_LOGOUT_URI
"""

import sys

from oic import rndstr
from oic.oic import Client
from oic.oic.message import (
    AccessTokenResponse,
    AuthorizationResponse,
    OpenIDSchema,
    RegistrationResponse,
)
from oic.utils.authn.client import CLIENT_AUTHN_METHOD


def ask(kind, url, want):
    print(f"{kind} {url}", flush=True)
    line = sys.stdin.readline().strip()
    tag, _, rest = line.partition(" ")
    assert tag == want, line
    return rest


def main():
    issuer, client_id, secret, redirect_uri, post_logout = sys.argv[1:6]
    client = Client(client_authn_method=CLIENT_AUTHN_METHOD, verify_ssl=False)
    client.provider_config(issuer)
    assert client.provider_info["issuer"] == issuer
    client.store_registration_info(
        RegistrationResponse(
            client_id=client_id,
            client_secret=secret,
            redirect_uris=[redirect_uri],
            post_logout_redirect_uris=[post_logout],
        )
    )

    def authorize(extra, kind, want):
        state, nonce = rndstr(), rndstr()
        pkce, verifier = client.add_code_challenge()
        args = {
            "client_id": client_id,
            "response_type": "code",
            "scope": ["openid", "email", "profile", "offline_access"],
            "nonce": nonce,
            "redirect_uri": redirect_uri,
            "state": state,
        }
        args.update(pkce)
        args.update(extra)
        url = client.construct_AuthorizationRequest(request_args=args).request(
            client.authorization_endpoint
        )
        answer = ask(kind, url, want)
        aresp = client.parse_response(
            AuthorizationResponse, info=answer, sformat="urlencoded"
        )
        assert aresp["state"] == state, aresp
        assert aresp["iss"] == issuer, aresp
        tokens = client.do_access_token_request(
            state=state,
            request_args={"code": aresp["code"], "code_verifier": verifier},
            authn_method="client_secret_basic",
        )
        assert isinstance(tokens, AccessTokenResponse), tokens
        # The id token was verified by the library (signature through the JWKS, iss,
        # aud, nonce); here what it says.
        idt = tokens["id_token"]
        assert idt["nonce"] == nonce and idt["aud"] == [client_id], idt.to_dict()
        assert idt["acr"].startswith("urn:latchkey:loa:"), idt.to_dict()
        return state, tokens

    state, tokens = authorize({}, "AUTH", "CALLBACK")
    # Userinfo: pyoidc's default (POST, the token in the form body), then GET.
    info = client.do_user_info_request(state=state)
    assert isinstance(info, OpenIDSchema), info
    assert info["sub"] == tokens["id_token"]["sub"], info.to_dict()
    assert info["email"].endswith("@example.com"), info.to_dict()
    info_get = client.do_user_info_request(state=state, method="GET")
    assert info_get["sub"] == info["sub"], info_get.to_dict()
    # Refresh.
    refreshed = client.do_access_token_refresh(
        state=state, authn_method="client_secret_basic"
    )
    assert isinstance(refreshed, AccessTokenResponse), refreshed
    assert refreshed["refresh_token"] != tokens["refresh_token"]
    # The form_post response mode.
    state_fp, _ = authorize({"response_mode": "form_post"}, "AUTH_FP", "FORM")
    # RP-initiated logout.
    logout_state = rndstr()
    end = client.construct_EndSessionRequest(
        state=state_fp,
        request_args={
            "post_logout_redirect_uri": post_logout,
            "state": logout_state,
        },
    ).request(client.end_session_endpoint)
    back = ask("LOGOUT", end, "LOGGED_OUT")
    assert f"state={logout_state}" in back, back
    print("pyoidc ok", flush=True)


if __name__ == "__main__":
    main()
