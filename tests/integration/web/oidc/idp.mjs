// A real OpenID Connect provider (panva/oidc-provider) for the web front door's SSO test.
// Usage: node idp.mjs CONFIG.json   where CONFIG = {port, client_id, client_secret, redirect_uri,
//        accounts: {id: {name, groups}}}. Prints "listening <issuer>" once it accepts connections.
// The accounts are read from CONFIG.json at each sign-in, so a test can add one while it runs.
// Authorization code only, PKCE required (S256); users sign in through the provider's own
// development login form (any password: the test proves the relying party, not this IdP).
import { readFileSync } from 'node:fs';
import Provider from 'oidc-provider';

const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const issuer = `http://127.0.0.1:${cfg.port}`;

const provider = new Provider(issuer, {
  clients: [{
    client_id: cfg.client_id,
    client_secret: cfg.client_secret,
    redirect_uris: [cfg.redirect_uri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  pkce: { required: () => true },
  claims: { openid: ['sub'], profile: ['name', 'preferred_username'], groups: ['groups'] },
  scopes: ['openid', 'profile', 'groups'],
  features: { devInteractions: { enabled: true } },
  cookies: { keys: ['confide-test-idp-cookie-key'] },
  async findAccount(ctx, id) {
    const account = JSON.parse(readFileSync(process.argv[2], 'utf8')).accounts[id];
    return {
      accountId: id,
      async claims() {
        return account
          ? { sub: id, preferred_username: id, name: account.name, groups: account.groups }
          : { sub: id, preferred_username: id, groups: [] };
      },
    };
  },
});
provider.on('server_error', (ctx, err) => console.error('server_error', err));
provider.listen(cfg.port, '127.0.0.1', () => console.log(`listening ${issuer}`));
