// panva's oidc-provider (a certified OpenID Provider) as the upstream latchkey signs
// people in through (tests/it/upstream.rs). Its own development pages sign in whoever
// types a login (the login is the account id); every account is Pat, whose address the
// provider says it verified. The claims of `email`, `profile` and `groups` come from
// userinfo (the provider keeps id tokens small when an access token is issued), which
// latchkey asks for with the same `sub`.
//
// env: PORT, CLIENT_SECRET, REDIRECT_URI. Prints "issuer <url>" once listening.
import Provider from "oidc-provider";

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const provider = new Provider(issuer, {
  clients: [
    {
      client_id: "latchkey",
      client_secret: process.env.CLIENT_SECRET,
      redirect_uris: [process.env.REDIRECT_URI],
      token_endpoint_auth_method: "client_secret_basic",
      grant_types: ["authorization_code"],
      response_types: ["code"],
    },
  ],
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          email: "pat@example.com",
          email_verified: true,
          name: "Pat",
          groups: ["family", "elsewhere"],
        };
      },
    };
  },
  claims: {
    openid: ["sub"],
    email: ["email", "email_verified"],
    profile: ["name"],
    groups: ["groups"],
  },
  scopes: ["openid", "email", "profile", "groups"],
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ["latchkey-tests-only"] },
});
provider.listen(port, "127.0.0.1", () => console.log(`issuer ${issuer}`));
