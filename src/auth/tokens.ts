/**
 * HS256 tokens exactly as the original signs and checks them.
 *
 * Signing: claims in the original's order (iss, iat, nbf, exp, aud, sig, sub) under the protected
 * header `{"alg":"HS256"}` — no `typ`, as Ruby's JWT gem writes it. Cluster tokens also get a
 * random `jti`: without it two registrations with the same body in the same second are the same
 * bytes, and the replay cache (step 9) would refuse the second, legitimate one. The original's
 * verifier ignores `jti` (ruby-jwt checks it only when asked to). We serialise the claims
 * ourselves (jose's CompactSign over our JSON) so the order is ours and not a library's.
 *
 * One difference in the bytes, not in meaning: Ruby computes `nbf = iat - 5.0` and `exp = iat + 30.0`
 * as Floats and writes `1699999995.0`; `JSON.stringify` writes the same number as `1699999995`.
 * The Ruby side reads both as numbers and compares them with `to_i`/`to_f`, and the MAC covers
 * whatever bytes we send, so the integer spelling verifies there.
 *
 * Verification, in order (each failure is an `AuthError` with its reason):
 *   1. shape: three base64url parts, bounded length                      -> malformed_token
 *   2. header: alg must be HS256 — `none`, HS512, RS256... are refused    -> bad_algorithm
 *   3. `sub` (read before the MAC, only to pick the key) names a known key -> unknown_key
 *   4. HMAC over header.payload with that key                             -> bad_signature
 *   5. exp / nbf against now, within a small bounded clock skew           -> expired / not_yet_valid
 *   6. aud is our node id                                                 -> wrong_audience
 *   7. iss is the peer the session key belongs to / the expected sender   -> wrong_issuer
 *   8. sig is "0/" + SHA-256 hex of the exact body                        -> body_mismatch
 *   9. a cluster token has not been seen before (when a cache is given)   -> replayed
 */
import { createHash, randomBytes, webcrypto } from 'node:crypto';

// jose's own subpath exports: the two JWS operations we use, not its whole index (JWE, JWKS, JWT
// and remote key sets too: ~2 MB more in every process).
import { CompactSign } from 'jose/jws/compact/sign';
import { compactVerify } from 'jose/jws/compact/verify';
import * as joseErrors from 'jose/errors';

import { nowSeconds } from './clock.js';
import { AuthError } from './errors.js';
import { CLUSTER_KEY_ID, type AuthKey } from './keys.js';
import type { ReplayCache } from './replay.js';

const TOKEN_ALGORITHM = 'HS256';

/**
 * The original checks exp and nbf with no leeway. We allow a little for clocks that drift, and cap
 * it so a configuration mistake cannot stretch a 30-second token into a long-lived one.
 */
const MAX_CLOCK_SKEW_SECONDS = 60;

/** Far above any real token (~400 bytes); stops us from parsing megabytes of attacker JSON. */
const MAX_TOKEN_LENGTH = 8192;

/** The only body signature the original's verifier accepts for an HTTP body. */
const BODY_SIG_PREFIX = '0/';

/** The claims of a token, in the original's order. */
export interface TokenClaims {
  iss: string;
  iat: number;
  nbf: number;
  exp: number;
  aud: string;
  sig: string;
  sub: string;
}

export interface SignTokenOptions {
  key: AuthKey;
  /** Our node id. */
  issuer: string;
  /** The receiver's node id. */
  audience: string;
  /** The exact HTTP body bytes that will be sent. */
  body: string | Buffer;
  /** Unix seconds; defaults to the wall clock. */
  now?: number;
  /** `process.timing.auth.early_validity_window`: nbf = iat - this. */
  earlyValidity: number;
  /** `process.timing.auth.validity_window`: exp = iat + this. */
  validity: number;
  /**
   * Private claims written after the original's seven (its verifier ignores claims it does not
   * know). Under the MAC like the rest: nobody without the key can add, strip or change them.
   */
  extraClaims?: Readonly<Record<string, unknown>>;
}

/** A key found for a token's `sub`, with the peer it was issued to when it is a session key. */
export interface LookedUpKey {
  key: AuthKey;
  /** When set, the token's `iss` must equal it: a session key speaks for one peer only. */
  peerId?: string;
}

export type KeyLookup = (keyId: string) => LookedUpKey | undefined;

export interface VerifyTokenOptions {
  keys: KeyLookup;
  /** Our own node id: the only audience we accept. */
  audience: string;
  /** The exact HTTP body bytes received. */
  body: string | Buffer;
  now?: number;
  /** Seconds of clock difference tolerated on exp and nbf; clamped to [0, MAX_CLOCK_SKEW_SECONDS]. */
  maxClockSkew: number;
  /** When set, `iss` must equal it (e.g. the `:sender_id` of the route). */
  issuer?: string;
  /** When set, a cluster token is accepted only once. */
  replayCache?: ReplayCache;
}

export interface VerifiedToken {
  /** The sender's node id, from `iss`. */
  issuer: string;
  /** The key that verified the token: `Cluster Auth` or a session id. */
  keyId: string;
  claims: TokenClaims;
  /** Claims beyond the original's seven, as signed (e.g. tunmesh's capability claim). */
  extraClaims: Readonly<Record<string, unknown>>;
}

interface TokenParts {
  header: string;
  payload: string;
  signature: string;
}

/**
 * The WebCrypto key jose signs and verifies with, imported once per AuthKey. Handed a secret
 * KeyObject, jose exports its bytes and imports them into WebCrypto again on every call (its
 * cache covers asymmetric keys only): in a 24-node mesh that import was a tenth of each idle
 * node's CPU (bench/README.md, "Scale").
 */
const hmacKeys = new WeakMap<AuthKey, Promise<webcrypto.CryptoKey>>();

function hmacKey(key: AuthKey): Promise<webcrypto.CryptoKey> {
  let imported = hmacKeys.get(key);
  if (imported === undefined) {
    imported = webcrypto.subtle.importKey('raw', key.key.export(), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
    hmacKeys.set(key, imported);
  }
  return imported;
}

export function bodySignature(body: string | Buffer): string {
  return BODY_SIG_PREFIX + createHash('sha256').update(body).digest('hex');
}

export async function signToken(options: SignTokenOptions): Promise<string> {
  const iat = Math.floor(options.now ?? nowSeconds());
  const claims: TokenClaims = {
    iss: options.issuer,
    iat,
    nbf: iat - options.earlyValidity,
    exp: iat + options.validity,
    aud: options.audience,
    sig: bodySignature(options.body),
    sub: options.key.id,
  };
  const unique = options.key.id === CLUSTER_KEY_ID ? { jti: randomBytes(12).toString('base64url') } : {};
  const payload = new TextEncoder().encode(JSON.stringify({ ...claims, ...unique, ...checkedExtraClaims(options.extraClaims) }));
  return new CompactSign(payload).setProtectedHeader({ alg: TOKEN_ALGORITHM }).sign(await hmacKey(options.key));
}

const STANDARD_CLAIMS: ReadonlySet<string> = new Set(['iss', 'iat', 'nbf', 'exp', 'aud', 'sig', 'sub', 'jti']);

/** Extra claims may add to the token, never override what the original checks. */
function checkedExtraClaims(extra: Readonly<Record<string, unknown>> | undefined): Readonly<Record<string, unknown>> {
  if (extra === undefined) return {};
  const clash = Object.keys(extra).find((name) => STANDARD_CLAIMS.has(name));
  if (clash !== undefined) throw new Error(`extra claim ${clash} would override a standard claim`);
  return extra;
}

function extraClaimsOf(claims: TokenClaims): Record<string, unknown> {
  return Object.fromEntries(Object.entries(claims).filter(([name]) => !STANDARD_CLAIMS.has(name)));
}

/** Verifies a token for a received body; throws `AuthError` and nothing else. */
export async function verifyToken(token: string, options: VerifyTokenOptions): Promise<VerifiedToken> {
  try {
    return await verifyOrThrow(token, options);
  } catch (err) {
    if (err instanceof AuthError) throw err;
    throw new AuthError('malformed_token', 'token could not be verified', { cause: err });
  }
}

async function verifyOrThrow(token: string, options: VerifyTokenOptions): Promise<VerifiedToken> {
  const parts = splitToken(token);
  checkHeader(parts.header);
  const found = lookupKey(options.keys, peekSubject(parts.payload));
  const claims = parseClaims(await checkMac(token, found.key));
  if (claims.sub !== found.key.id) {
    throw new AuthError('unknown_key', 'signed claims name another key than the one looked up');
  }
  const now = options.now ?? nowSeconds();
  const skew = clampSkew(options.maxClockSkew);
  checkTimes(claims, now, skew);
  checkAudience(claims, options.audience);
  checkIssuer(claims, found.peerId, options.issuer);
  checkBody(claims, options.body);
  checkReplay(token, claims, now, skew, options.replayCache);
  return { issuer: claims.iss, keyId: claims.sub, claims, extraClaims: extraClaimsOf(claims) };
}

function splitToken(token: string): TokenParts {
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new AuthError('malformed_token', `token is ${token.length} characters, limit ${MAX_TOKEN_LENGTH}`);
  }
  const segments = token.split('.');
  if (segments.length !== 3 || !segments.every((s) => /^[A-Za-z0-9_-]*$/.test(s))) {
    throw new AuthError('malformed_token', 'token is not three base64url parts');
  }
  const [header, payload, signature] = segments as [string, string, string];
  return { header, payload, signature };
}

function decodeJsonObject(segment: string, what: string): Record<string, unknown> {
  return parseJsonObject(Buffer.from(segment, 'base64url').toString('utf8'), what);
}

function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new AuthError('malformed_token', `${what} is not JSON`, { cause: err });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AuthError('malformed_token', `${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Refuses anything but HS256 before any key is touched, so `none` or RS256 never reach jose. */
function checkHeader(segment: string): void {
  const header = decodeJsonObject(segment, 'token header');
  if (header.alg !== TOKEN_ALGORITHM) {
    throw new AuthError('bad_algorithm', `token algorithm ${JSON.stringify(header.alg)} is not ${TOKEN_ALGORITHM}`);
  }
  if ('crit' in header) {
    throw new AuthError('malformed_token', 'token header has critical extensions we do not support');
  }
}

/** Reads `sub` before the MAC is checked; it only selects the key, which the MAC then proves. */
function peekSubject(segment: string): string {
  const sub = decodeJsonObject(segment, 'token claims').sub;
  if (typeof sub !== 'string' || sub === '') {
    throw new AuthError('malformed_token', 'token has no sub claim naming its key');
  }
  return sub;
}

function lookupKey(keys: KeyLookup, keyId: string): LookedUpKey {
  const found = keys(keyId);
  if (found === undefined) {
    const kind = keyId === CLUSTER_KEY_ID ? 'cluster key' : `session key ${keyId}`;
    throw new AuthError('unknown_key', `no ${kind} to verify with`);
  }
  return found;
}

async function checkMac(token: string, key: AuthKey): Promise<Uint8Array> {
  try {
    const { payload } = await compactVerify(token, await hmacKey(key), { algorithms: [TOKEN_ALGORITHM] });
    return payload;
  } catch (err) {
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
      throw new AuthError('bad_signature', `token MAC does not verify with key ${key.id}`, { cause: err });
    }
    if (err instanceof joseErrors.JOSEAlgNotAllowed) {
      throw new AuthError('bad_algorithm', 'token algorithm not allowed', { cause: err });
    }
    throw new AuthError('malformed_token', 'token could not be decoded', { cause: err });
  }
}

function parseClaims(payload: Uint8Array): TokenClaims {
  const raw = parseJsonObject(new TextDecoder().decode(payload), 'token claims');
  const strings = ['iss', 'aud', 'sig', 'sub'] as const;
  const numbers = ['iat', 'nbf', 'exp'] as const;
  for (const name of strings) {
    if (typeof raw[name] !== 'string' || raw[name] === '') {
      throw new AuthError('malformed_token', `claim ${name} must be a non-empty string`);
    }
  }
  for (const name of numbers) {
    if (typeof raw[name] !== 'number' || !Number.isFinite(raw[name])) {
      throw new AuthError('malformed_token', `claim ${name} must be a number`);
    }
  }
  return raw as unknown as TokenClaims;
}

function clampSkew(skew: number): number {
  if (!Number.isFinite(skew) || skew < 0) return 0;
  return Math.min(skew, MAX_CLOCK_SKEW_SECONDS);
}

/** Same comparisons as Ruby's JWT gem and jose: expired at exp, not valid before nbf. */
function checkTimes(claims: TokenClaims, now: number, skew: number): void {
  if (claims.exp <= now - skew) {
    throw new AuthError('expired', `token expired at ${claims.exp}, now ${Math.floor(now)}`);
  }
  if (claims.nbf > now + skew) {
    throw new AuthError('not_yet_valid', `token not valid before ${claims.nbf}, now ${Math.floor(now)}`);
  }
}

function checkAudience(claims: TokenClaims, ownId: string): void {
  if (claims.aud !== ownId) {
    throw new AuthError('wrong_audience', `token is for ${claims.aud}, not this node (${ownId})`);
  }
}

function checkIssuer(claims: TokenClaims, keyOwner: string | undefined, expected: string | undefined): void {
  if (keyOwner !== undefined && claims.iss !== keyOwner) {
    throw new AuthError('wrong_issuer', `token from ${claims.iss} signed with the session key of ${keyOwner}`);
  }
  if (expected !== undefined && claims.iss !== expected) {
    throw new AuthError('wrong_issuer', `token from ${claims.iss}, expected ${expected}`);
  }
}

/**
 * The original can also write "1/" + a packet's MD5, but its verifier always recomputes "0/" +
 * SHA-256 of the received body, so that form never verifies there; we refuse it too rather than
 * accept an MD5 binding. A plain string compare is enough: `sig` is not secret, the MAC covers it.
 */
function checkBody(claims: TokenClaims, body: string | Buffer): void {
  if (claims.sig !== bodySignature(body)) {
    throw new AuthError('body_mismatch', 'token was signed for a different body');
  }
}

/** Remembered until exp + skew: the last moment the same token could pass `checkTimes` again. */
function checkReplay(
  token: string,
  claims: TokenClaims,
  now: number,
  skew: number,
  cache: ReplayCache | undefined,
): void {
  if (cache === undefined || claims.sub !== CLUSTER_KEY_ID) return;
  if (!cache.checkAndRemember(token, claims.exp + skew, now)) {
    throw new AuthError('replayed', 'cluster token was already used');
  }
}
