// node-oidc-provider (OpenID Certified) configured as the identity provider for the
// portal's interop tests. In-memory state, a single confidential client (the portal),
// a password + TOTP login form, automatic consent, back-channel logout and
// RP-initiated logout. Test-only: never deploy this.
//
// Environment:
//   PORT                      TCP port to listen on (bound to 127.0.0.1 only)
//   ISSUER                    issuer URL, normally http://127.0.0.1:PORT
//   CLIENT_ID, CLIENT_SECRET  the portal's client credentials
//   REDIRECT_URI              the portal's redirect_uri (authorization code callback)
//   POST_LOGOUT_REDIRECT_URI  the portal's post_logout_redirect_uri
//   BACKCHANNEL_LOGOUT_URI    the portal's backchannel_logout_uri
//   USERS_JSON                JSON list of {username, password, totp_secret, name, email}

import { createHmac, generateKeyPairSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer } from 'node:http';

import Provider, { errors } from 'oidc-provider';

const HOST = '127.0.0.1';
const ACR = 'urn:interop:mfa';
const AMR = ['pwd', 'otp'];
const PAGE_TITLE = 'Interop provider';

function requireEnv(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`missing required environment variable ${name}`);
    process.exit(2);
  }
  return value;
}

const PORT = Number.parseInt(requireEnv('PORT'), 10);
const ISSUER = process.env.ISSUER || `http://${HOST}:${PORT}`;
const CLIENT_ID = requireEnv('CLIENT_ID');
const CLIENT_SECRET = requireEnv('CLIENT_SECRET');
const REDIRECT_URI = requireEnv('REDIRECT_URI');
const POST_LOGOUT_REDIRECT_URI = requireEnv('POST_LOGOUT_REDIRECT_URI');
const BACKCHANNEL_LOGOUT_URI = requireEnv('BACKCHANNEL_LOGOUT_URI');
const USERS = new Map(JSON.parse(requireEnv('USERS_JSON')).map((user) => [user.username, user]));

// ---------------------------------------------------------------------------------------
// TOTP (RFC 6238: HMAC-SHA1, 6 digits, 30 s step, one step of clock drift either way)

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32Decode(input) {
  const clean = input.toUpperCase().replace(/[\s=]/g, '');
  const out = [];
  let bits = 0;
  let value = 0;
  for (const char of clean) {
    const index = BASE32.indexOf(char);
    if (index === -1) throw new TypeError('invalid base32 secret');
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >>> bits) & 0xff);
      value &= (1 << bits) - 1;
    }
  }
  return Buffer.from(out);
}

function hotp(key, counter) {
  const message = Buffer.alloc(8);
  message.writeBigUInt64BE(BigInt(counter));
  const digest = createHmac('sha1', key).update(message).digest();
  const offset = digest[digest.length - 1] & 0x0f;
  const binary = digest.readUInt32BE(offset) & 0x7fffffff;
  return String(binary % 1_000_000).padStart(6, '0');
}

function verifyTotp(secret, code, nowMs = Date.now()) {
  if (typeof code !== 'string' || !/^\d{6}$/.test(code)) return false;
  let key;
  try {
    key = base32Decode(secret);
  } catch {
    return false;
  }
  const step = Math.floor(nowMs / 1000 / 30);
  let ok = false;
  for (const drift of [-1, 0, 1]) {
    ok = safeEqual(hotp(key, step + drift), code) || ok;
  }
  return ok;
}

function safeEqual(a, b) {
  const left = Buffer.from(String(a));
  const right = Buffer.from(String(b));
  return left.length === right.length && timingSafeEqual(left, right);
}

// ---------------------------------------------------------------------------------------
// HTML

function esc(value) {
  return String(value ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>${esc(title)}</title>
</head>
<body>
${body}
</body>
</html>`;
}

function loginPage(uid, { username = '', error } = {}) {
  return page(PAGE_TITLE, `  <h1>Sign in</h1>
  <p>Password and one-time code from your authenticator app.</p>
  ${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}
  <!-- No client-side validation: the server decides, so tests can submit anything. -->
  <form method="post" action="/interaction/${esc(uid)}">
    <p><label for="username">Username</label>
      <input id="username" name="username" type="text" autocomplete="username" value="${esc(username)}" autofocus></p>
    <p><label for="password">Password</label>
      <input id="password" name="password" type="password" autocomplete="current-password"></p>
    <p><label for="code">One-time code</label>
      <input id="code" name="code" type="text" inputmode="numeric" autocomplete="one-time-code"></p>
    <button type="submit">Continue</button>
  </form>`);
}

function send(res, status, html) {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.end(html);
}

async function readForm(req, limit = 64 * 1024) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > limit) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

// ---------------------------------------------------------------------------------------
// Provider configuration

const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = {
  ...privateKey.export({ format: 'jwk' }),
  kid: randomBytes(8).toString('hex'),
  alg: 'RS256',
  use: 'sig',
};

function findUser(username) {
  return typeof username === 'string' ? USERS.get(username) : undefined;
}

const configuration = {
  clients: [
    {
      client_id: CLIENT_ID,
      client_secret: CLIENT_SECRET,
      client_name: 'Customer portal',
      application_type: 'web',
      grant_types: ['authorization_code'],
      response_types: ['code'],
      redirect_uris: [REDIRECT_URI],
      post_logout_redirect_uris: [POST_LOGOUT_REDIRECT_URI],
      backchannel_logout_uri: BACKCHANNEL_LOGOUT_URI,
      backchannel_logout_session_required: true,
      // The library accepts client_secret_post as well for a client registered with
      // client_secret_basic (both are "client secret" methods, see shared/client_auth.js).
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'RS256',
    },
  ],
  jwks: { keys: [signingKey] },
  cookies: {
    keys: [randomBytes(32).toString('base64url'), randomBytes(32).toString('base64url')],
  },
  responseTypes: ['code'],
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  scopes: ['openid', 'profile', 'email'],
  acrValues: [ACR],
  // acr, amr and sid on the openid scope: every ID token carries the second-factor
  // evidence and the session id (sid would also be there for a back-channel client).
  claims: {
    openid: ['sub', 'acr', 'amr', 'sid', 'auth_time'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  // Also put the profile/email claims into the ID token (not only userinfo), as most
  // production providers do; a thin RP typically reads them from the ID token.
  conformIdTokenClaims: false,
  async findAccount(ctx, sub) {
    const user = findUser(sub);
    if (!user) return undefined;
    return {
      accountId: user.username,
      async claims() {
        return {
          sub: user.username,
          name: user.name ?? user.username,
          preferred_username: user.username,
          email: user.email,
          email_verified: Boolean(user.email),
        };
      },
    };
  },
  pkce: {
    // S256 is the only method the library supports; require it for every client.
    required: () => true,
  },
  features: {
    devInteractions: { enabled: false },
    backchannelLogout: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      // Same form as the library's default (hidden "xsrf" input inside
      // <form id="op.logoutForm">, buttons bound to it with form="op.logoutForm"; the
      // "Yes, sign me out" button posts logout=yes). Only the styling is dropped (the
      // default imports a web font from the internet).
      async logoutSource(ctx, form) {
        ctx.type = 'html';
        ctx.body = page(`${PAGE_TITLE} - sign out`, `  <h1>Do you want to sign out from ${esc(ctx.host)}?</h1>
  ${form}
  <button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
  <button type="submit" form="op.logoutForm">No, stay signed in</button>`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.type = 'html';
        ctx.body = page(`${PAGE_TITLE} - signed out`, '  <h1>Sign-out successful</h1>');
      },
    },
    userinfo: { enabled: true },
  },
  interactions: {
    url: (ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page(`${PAGE_TITLE} - error`, `  <h1>Something went wrong</h1>
${Object.entries(out).map(([key, value]) => `  <pre><strong>${esc(key)}</strong>: ${esc(value)}</pre>`).join('\n')}`);
  },
  ttl: {
    AccessToken: 60 * 60,
    AuthorizationCode: 60,
    IdToken: 60 * 60,
    Interaction: 10 * 60,
    // The SSO session lives 12 hours, like the production IdPs in DESIGN.md.
    Session: 12 * 60 * 60,
    Grant: 12 * 60 * 60,
  },
  // Outgoing requests (here: only back-channel logout deliveries). The library routes
  // them through an SSRF-protected dispatcher that refuses connections to special-use
  // addresses (loopback, RFC 1918, link-local, ...). The portal under test listens on
  // 127.0.0.1, so the logout_token could never reach it. For exactly the literal host
  // 127.0.0.1 the protection is bypassed (a literal IP needs no DNS, so there is nothing
  // to rebind); every other host, including "localhost", ::1 and private ranges, still
  // goes through the library's protected dispatcher and is refused. Redirects are not
  // followed (the library sends redirect: "manual").
  fetch(url, options) {
    if (new URL(url).hostname === HOST) {
      const { dispatcher: _protected, ...unprotected } = options;
      return globalThis.fetch(url, unprotected);
    }
    return globalThis.fetch(url, options);
  },
};

const provider = new Provider(ISSUER, configuration);

provider.on('backchannel.error', (ctx, err, client, accountId, sid) => {
  console.error(`backchannel logout to ${client.clientId} failed (sub=${accountId} sid=${sid}): ${err.cause?.message ?? err.message}`);
});
provider.on('backchannel.success', (ctx, client, accountId, sid) => {
  console.log(`backchannel logout delivered to ${client.clientId} (sub=${accountId} sid=${sid})`);
});
provider.on('server_error', (ctx, err) => {
  console.error('server_error', err);
});

// ---------------------------------------------------------------------------------------
// Interactions: login (password + TOTP) and automatic consent for the portal

async function autoConsent(req, res, interaction) {
  const { prompt: { details }, params, session: { accountId } } = interaction;
  let { grantId } = interaction;
  const grant = grantId
    ? await provider.Grant.find(grantId)
    : new provider.Grant({ accountId, clientId: params.client_id });
  grant.addOIDCScope('openid profile email');
  if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
  if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
  if (details.missingResourceScopes) {
    for (const [indicator, scopes] of Object.entries(details.missingResourceScopes)) {
      grant.addResourceScope(indicator, scopes.join(' '));
    }
  }
  grantId = await grant.save();
  const consent = interaction.grantId ? {} : { grantId };
  await provider.interactionFinished(req, res, { consent }, { mergeWithLastSubmission: true });
}

async function handleInteraction(req, res, uid) {
  const interaction = await provider.interactionDetails(req, res);
  if (interaction.uid !== uid) {
    throw new errors.SessionNotFound('interaction uid does not match the interaction cookie');
  }
  const { prompt, params } = interaction;

  if (req.method === 'GET') {
    if (prompt.name === 'login') {
      send(res, 200, loginPage(uid, { username: params.login_hint }));
      return;
    }
    if (prompt.name === 'consent' && params.client_id === CLIENT_ID) {
      await autoConsent(req, res, interaction);
      return;
    }
    send(res, 400, page(`${PAGE_TITLE} - error`, `  <h1>Unsupported prompt ${esc(prompt.name)}</h1>`));
    return;
  }

  if (req.method === 'POST' && prompt.name === 'login') {
    const form = await readForm(req);
    const username = form.get('username') ?? '';
    const user = findUser(username);
    const passwordOk = Boolean(user) && safeEqual(form.get('password') ?? '', user.password);
    const codeOk = Boolean(user) && verifyTotp(user.totp_secret, (form.get('code') ?? '').trim());
    if (!passwordOk || !codeOk) {
      send(res, 400, loginPage(uid, { username, error: 'Invalid credentials' }));
      return;
    }
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId: user.username, acr: ACR, amr: AMR, remember: true } },
      { mergeWithLastSubmission: false },
    );
    return;
  }

  send(res, 405, page(`${PAGE_TITLE} - error`, '  <h1>Method not allowed</h1>'));
}

const providerCallback = provider.callback();
const INTERACTION_PATH = /^\/interaction\/([A-Za-z0-9_-]+)\/?$/;

const server = createServer((req, res) => {
  const { pathname } = new URL(req.url, ISSUER);
  const match = INTERACTION_PATH.exec(pathname);
  if (!match) {
    providerCallback(req, res);
    return;
  }
  handleInteraction(req, res, match[1]).catch((err) => {
    if (res.headersSent) {
      res.destroy(err);
      return;
    }
    if (err instanceof errors.SessionNotFound) {
      send(res, 400, page(`${PAGE_TITLE} - error`, `  <h1>Sign-in session expired or not found</h1>
  <p>${esc(err.error_description ?? err.message)}</p>`));
      return;
    }
    console.error('interaction error', err);
    send(res, 500, page(`${PAGE_TITLE} - error`, '  <h1>Internal error</h1>'));
  });
});

function shutdown(signal) {
  console.log(`received ${signal}, shutting down`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

server.listen(PORT, HOST, () => {
  console.log(`listening on ${ISSUER}`);
});
