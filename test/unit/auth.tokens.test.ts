import { createHmac, generateKeyPairSync } from 'node:crypto';

import { expect } from 'chai';
import { CompactSign } from 'jose';

import {
  AuthError,
  bodySignature,
  clusterKey,
  keyLookup,
  ReplayCache,
  sessionKey,
  signToken,
  verifyToken,
  type AuthErrorReason,
  type AuthKey,
  type VerifyTokenOptions,
} from '../../src/auth/index.js';

const SECRET = 'a-cluster-secret-of-at-least-32-chars!!';
const SENDER = '11111111-1111-4111-8111-111111111111';
const RECEIVER = '22222222-2222-4222-8222-222222222222';
const NOW = 1_700_000_000;
const BODY = '{"local":{"id":"11111111-1111-4111-8111-111111111111"},"remote":[],"stamp":1700000000}';

const cluster = clusterKey(SECRET);
const session = sessionKey('33333333-3333-4333-8333-333333333333', Buffer.alloc(64, 7));

function sign(key: AuthKey = cluster, overrides: { now?: number; audience?: string; body?: string } = {}): Promise<string> {
  return signToken({
    key,
    issuer: SENDER,
    audience: overrides.audience ?? RECEIVER,
    body: overrides.body ?? BODY,
    now: overrides.now ?? NOW,
    earlyValidity: 5.0,
    validity: 30.0,
  });
}

function verifyOptions(overrides: Partial<VerifyTokenOptions> = {}): VerifyTokenOptions {
  return {
    keys: (id) => (id === cluster.id ? { key: cluster } : id === session.id ? { key: session } : undefined),
    audience: RECEIVER,
    body: BODY,
    now: NOW,
    maxClockSkew: 0,
    ...overrides,
  };
}

async function expectRefused(token: string, reason: AuthErrorReason, overrides: Partial<VerifyTokenOptions> = {}): Promise<void> {
  let caught: unknown;
  try {
    await verifyToken(token, verifyOptions(overrides));
  } catch (err) {
    caught = err;
  }
  expect(caught, 'verifyToken should refuse').to.be.instanceOf(AuthError);
  expect((caught as AuthError).reason).to.equal(reason);
}

function b64url(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64url');
}

function decodePart(token: string, index: number): string {
  return Buffer.from(token.split('.')[index] ?? '', 'base64url').toString('utf8');
}

describe('auth tokens', () => {
  describe('signing like the original', () => {
    it('writes the protected header exactly as {"alg":"HS256"} with no typ', async () => {
      expect(decodePart(await sign(), 0)).to.equal('{"alg":"HS256"}');
    });

    it('writes the claims in the original order iss, iat, nbf, exp, aud, sig, sub (then a cluster token\'s jti)', async () => {
      const sha = bodySignature(BODY);
      expect(decodePart(await sign(), 1)).to.match(
        new RegExp(
          `^\\{"iss":"${SENDER}","iat":1700000000,"nbf":1699999995,"exp":1700000030,` +
            `"aud":"${RECEIVER}","sig":"${sha.replace('/', '\\/')}","sub":"Cluster Auth","jti":"[A-Za-z0-9_-]{16}"\\}$`,
        ),
      );
    });

    it('makes two cluster tokens for the same body in the same second differ (jti), so the replay cache takes both', async () => {
      const cache = new ReplayCache({ skewSeconds: 5 });
      const [a, b] = [await sign(), await sign()];
      expect(a).to.not.equal(b);
      for (const t of [a, b]) await verifyToken(t, { keys: keyLookup({ cluster }), audience: RECEIVER, body: BODY, now: NOW, maxClockSkew: 5, replayCache: cache });
      const again = await verifyToken(a, { keys: keyLookup({ cluster }), audience: RECEIVER, body: BODY, now: NOW, maxClockSkew: 5, replayCache: cache }).then(() => 'accepted', (e: AuthError) => e.reason);
      expect(again).to.equal('replayed');
    });

    it('signs the body as "0/" + SHA-256 hex of its exact bytes', () => {
      expect(bodySignature('abc')).to.equal('0/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
      expect(bodySignature(Buffer.from('abc'))).to.equal(bodySignature('abc'));
    });

    it('truncates a fractional now to whole seconds for iat', async () => {
      const claims = JSON.parse(decodePart(await sign(cluster, { now: NOW + 0.9 }), 1)) as { iat: number };
      expect(claims.iat).to.equal(NOW);
    });
  });

  describe('round trips', () => {
    it('a cluster token verifies and names the sender and the cluster key', async () => {
      const result = await verifyToken(await sign(), verifyOptions());
      expect(result.issuer).to.equal(SENDER);
      expect(result.keyId).to.equal('Cluster Auth');
      expect(result.claims.aud).to.equal(RECEIVER);
    });

    it('a session token verifies with the session key its sub names', async () => {
      const result = await verifyToken(await sign(session), verifyOptions());
      expect(result.keyId).to.equal(session.id);
    });

    it('a Buffer body verifies the same as its string', async () => {
      await verifyToken(await sign(), verifyOptions({ body: Buffer.from(BODY, 'utf8') }));
    });

    it("reads a token written like Ruby's, with float nbf and exp", async () => {
      const header = b64url('{"alg":"HS256"}');
      const payload = b64url(
        `{"iss":"${SENDER}","iat":1700000000,"nbf":1699999995.0,"exp":1700000030.0,` +
          `"aud":"${RECEIVER}","sig":"${bodySignature(BODY)}","sub":"Cluster Auth"}`,
      );
      const mac = createHmac('sha256', Buffer.from(SECRET, 'utf8')).update(`${header}.${payload}`).digest('base64url');
      const result = await verifyToken(`${header}.${payload}.${mac}`, verifyOptions());
      expect(result.issuer).to.equal(SENDER);
    });
  });

  describe('refusals', () => {
    it('alg none is refused as bad_algorithm', async () => {
      const payload = (await sign()).split('.')[1];
      await expectRefused(`${b64url('{"alg":"none"}')}.${payload}.`, 'bad_algorithm');
    });

    it('HS512 is refused as bad_algorithm even with the right key', async () => {
      const payload = Buffer.from(decodePart(await sign(session), 1));
      const token = await new CompactSign(payload).setProtectedHeader({ alg: 'HS512' }).sign(session.key);
      await expectRefused(token, 'bad_algorithm');
    });

    it('RS256 signed with a real RSA key is refused as bad_algorithm', async () => {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const payload = Buffer.from(decodePart(await sign(), 1));
      const token = await new CompactSign(payload).setProtectedHeader({ alg: 'RS256' }).sign(privateKey);
      await expectRefused(token, 'bad_algorithm');
    });

    it('a token signed with another cluster secret is refused as bad_signature', async () => {
      const other = clusterKey('another-cluster-secret-32-chars-long!!');
      await expectRefused(await sign(other), 'bad_signature');
    });

    it('claims changed after signing are refused as bad_signature', async () => {
      const [header, payload, mac] = (await sign()).split('.') as [string, string, string];
      const forged = b64url(Buffer.from(payload, 'base64url').toString().replace(RECEIVER, SENDER));
      await expectRefused(`${header}.${forged}.${mac}`, 'bad_signature', { audience: SENDER });
    });

    it('a token for another node is refused as wrong_audience', async () => {
      await expectRefused(await sign(cluster, { audience: SENDER }), 'wrong_audience');
    });

    it('a token is expired at exp and refused as expired', async () => {
      const token = await sign();
      await verifyToken(token, verifyOptions({ now: NOW + 29.9 }));
      await expectRefused(token, 'expired', { now: NOW + 30 });
    });

    it('a token is refused as not_yet_valid before nbf', async () => {
      const token = await sign();
      await verifyToken(token, verifyOptions({ now: NOW - 5 }));
      await expectRefused(token, 'not_yet_valid', { now: NOW - 5.1 });
    });

    it('clock skew is tolerated up to the configured bound and no further than 60 s', async () => {
      const token = await sign();
      await verifyToken(token, verifyOptions({ now: NOW + 39, maxClockSkew: 10 }));
      await expectRefused(token, 'expired', { now: NOW + 41, maxClockSkew: 10 });
      await expectRefused(token, 'expired', { now: NOW + 91, maxClockSkew: 3600 });
    });

    it('a token signed for another body is refused as body_mismatch', async () => {
      await expectRefused(await sign(), 'body_mismatch', { body: `${BODY} ` });
    });

    it('the "1/"+md5 body signature form is refused as body_mismatch', async () => {
      const header = b64url('{"alg":"HS256"}');
      const payload = b64url(
        `{"iss":"${SENDER}","iat":${NOW},"nbf":${NOW - 5},"exp":${NOW + 30},"aud":"${RECEIVER}",` +
          `"sig":"1/0123456789abcdef0123456789abcdef","sub":"Cluster Auth"}`,
      );
      const mac = createHmac('sha256', Buffer.from(SECRET, 'utf8')).update(`${header}.${payload}`).digest('base64url');
      await expectRefused(`${header}.${payload}.${mac}`, 'body_mismatch');
    });

    it('a session id we never issued is refused as unknown_key', async () => {
      const stranger = sessionKey('44444444-4444-4444-8444-444444444444', Buffer.alloc(64, 9));
      await expectRefused(await sign(stranger), 'unknown_key');
    });

    it('a cluster token is refused as unknown_key where only session keys are accepted', async () => {
      await expectRefused(await sign(), 'unknown_key', { keys: keyLookup({}) });
    });

    it('a token whose sender is not the expected one is refused as wrong_issuer', async () => {
      await expectRefused(await sign(), 'wrong_issuer', { issuer: RECEIVER });
    });

    it('a session token from another peer than the key owner is refused as wrong_issuer', async () => {
      await expectRefused(await sign(session), 'wrong_issuer', {
        keys: (id) => (id === session.id ? { key: session, peerId: RECEIVER } : undefined),
      });
    });

    it('a replayed cluster token is refused as replayed', async () => {
      const replayCache = new ReplayCache();
      const token = await sign();
      await verifyToken(token, verifyOptions({ replayCache }));
      await expectRefused(token, 'replayed', { replayCache });
    });

    it('a replayed cluster token with a respelled signature is still refused', async () => {
      const replayCache = new ReplayCache();
      const token = await sign();
      await verifyToken(token, verifyOptions({ replayCache }));
      // The last of 43 base64url characters carries 4 unused bits: flip one of them.
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const last = alphabet.indexOf(token.slice(-1));
      const respelled = token.slice(0, -1) + alphabet[last ^ 1];
      expect(respelled).to.not.equal(token);
      await expectRefused(respelled, 'replayed', { replayCache });
    });

    it('session tokens are not subject to the replay cache', async () => {
      const replayCache = new ReplayCache();
      const token = await sign(session);
      await verifyToken(token, verifyOptions({ replayCache }));
      await verifyToken(token, verifyOptions({ replayCache }));
      expect(replayCache.size).to.equal(0);
    });

    it('a refused cluster token is not remembered, so it cannot fill the replay cache', async () => {
      const replayCache = new ReplayCache();
      await expectRefused(await sign(), 'body_mismatch', { body: 'x', replayCache });
      expect(replayCache.size).to.equal(0);
    });

    it('garbage of every shape is refused with an AuthError and nothing else', async () => {
      const valid = await sign();
      const [header, payload] = valid.split('.') as [string, string];
      const inputs = [
        '',
        'a.b',
        'a.b.c.d',
        '!!!.???.***',
        `${b64url('[1]')}.${payload}.x`,
        `${b64url('{"alg":"HS256"}')}.${b64url('not json')}.x`,
        `${header}.${b64url('{"sub":42}')}.x`,
        `${b64url('{"alg":"HS256","crit":["b64"],"b64":false}')}.${payload}.x`,
        `${header}.${payload}.${'A'.repeat(9000)}`,
        `${header}.${payload}`,
      ];
      for (const input of inputs) {
        let caught: unknown;
        try {
          await verifyToken(input, verifyOptions());
        } catch (err) {
          caught = err;
        }
        expect(caught, input.slice(0, 60)).to.be.instanceOf(AuthError);
      }
    });

    it('a token with a non-number time claim is refused as malformed_token', async () => {
      const header = b64url('{"alg":"HS256"}');
      const payload = b64url(
        `{"iss":"${SENDER}","iat":${NOW},"nbf":"${NOW - 5}","exp":${NOW + 30},"aud":"${RECEIVER}",` +
          `"sig":"${bodySignature(BODY)}","sub":"Cluster Auth"}`,
      );
      const mac = createHmac('sha256', Buffer.from(SECRET, 'utf8')).update(`${header}.${payload}`).digest('base64url');
      await expectRefused(`${header}.${payload}.${mac}`, 'malformed_token');
    });
  });

  describe('keys', () => {
    it('refuses a cluster secret shorter than 32 characters', () => {
      expect(() => clusterKey('short')).to.throw(AuthError).with.property('reason', 'bad_key');
    });

    it('refuses a session secret that is not 64 bytes', () => {
      expect(() => sessionKey('x', Buffer.alloc(32))).to.throw(AuthError).with.property('reason', 'bad_key');
    });
  });
});
