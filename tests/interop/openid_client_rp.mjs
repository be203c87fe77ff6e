// panva's openid-client 6.x (a certified relying party library) against latchkey's
// OpenID Connect provider, unmodified: discovery, the authorization code flow with PKCE,
// the id token, userinfo, refresh, the form_post response mode, RP-initiated logout.
//
// The browser's part is the test's (tests/it/interop.rs), one line each way:
//   AUTH <url>     -> CALLBACK <query of the redirect>
//   AUTH_FP <url>  -> FORM <the posted form, urlencoded>
//   LOGOUT <url>   -> LOGGED_OUT <query of the post-logout redirect>
//
// usage: node openid_client_rp.mjs ISSUER CLIENT_ID CLIENT_SECRET REDIRECT_URI POST_LOGOUT_URI
import * as client from "openid-client";
import * as readline from "node:readline";
import assert from "node:assert/strict";

const [issuer, clientId, secret, redirectUri, postLogout] = process.argv.slice(2);
const lines = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();

async function ask(kind, url, want) {
  console.log(`${kind} ${url}`);
  const { value } = await lines.next();
  const [tag, ...rest] = value.split(" ");
  assert.equal(tag, want, value);
  return rest.join(" ");
}

// http on loopback: the library refuses it unless told.
const config = await client.discovery(new URL(issuer), clientId, secret, undefined, {
  execute: [client.allowInsecureRequests],
});
assert.equal(config.serverMetadata().issuer, issuer);

async function authorize(extra, kind, want) {
  const verifier = client.randomPKCECodeVerifier();
  const challenge = await client.calculatePKCECodeChallenge(verifier);
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope: "openid email profile offline_access",
    code_challenge: challenge,
    code_challenge_method: "S256",
    state,
    nonce,
    ...extra,
  });
  const answer = await ask(kind, url.href, want);
  let current;
  if (want === "FORM") {
    // As the app's own endpoint receives it: a POST with the form.
    current = new Request(redirectUri, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: answer,
    });
  } else {
    current = new URL(`${redirectUri}?${answer}`);
  }
  const tokens = await client.authorizationCodeGrant(config, current, {
    pkceCodeVerifier: verifier,
    expectedState: state,
    expectedNonce: nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims();
  assert.equal(claims.iss, issuer);
  assert.equal(claims.aud, clientId);
  assert.match(claims.acr, /^urn:latchkey:loa:/);
  return tokens;
}

const tokens = await authorize({}, "AUTH", "CALLBACK");
const sub = tokens.claims().sub;
const info = await client.fetchUserInfo(config, tokens.access_token, sub);
assert.equal(info.sub, sub);
assert.match(info.email, /@example\.com$/);
const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token);
assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
assert.equal(refreshed.claims().sub, sub);
const fp = await authorize({ response_mode: "form_post" }, "AUTH_FP", "FORM");
const end = client.buildEndSessionUrl(config, {
  id_token_hint: fp.id_token,
  post_logout_redirect_uri: postLogout,
  state: "bye-state",
});
const back = await ask("LOGOUT", end.href, "LOGGED_OUT");
assert.ok(back.includes("state=bye-state"), back);
console.log("openid-client ok");
process.exit(0);
