/**
 * HMAC keys for HS256 tokens.
 *
 * A key is held as a `KeyObject`; tokens.ts imports it into WebCrypto once (per AuthKey) for jose,
 * which would otherwise re-import a secret key's bytes on every sign and verify.
 */
import { createSecretKey, type KeyObject } from 'node:crypto';

import { AuthError } from './errors.js';

/** The `sub` of cluster tokens; the original's literal, so both implementations pick the same key. */
export const CLUSTER_KEY_ID = 'Cluster Auth';

/** The original draws 64 random bytes per session (`SecureRandom.random_bytes(64)`). */
export const SESSION_SECRET_BYTES = 64;

/** The original's config refuses shorter cluster secrets; so do we, whoever builds the key. */
const MIN_CLUSTER_SECRET_LENGTH = 32;

/** A signing key and the id that goes into (and selects it from) a token's `sub` claim. */
export interface AuthKey {
  readonly id: string;
  readonly key: KeyObject;
}

/** The cluster key: the UTF-8 bytes of `clustering.auth.secret`, as Ruby's JWT gem uses the string. */
export function clusterKey(secret: string): AuthKey {
  if (secret.length < MIN_CLUSTER_SECRET_LENGTH) {
    throw new AuthError(
      'bad_key',
      `cluster secret must be at least ${MIN_CLUSTER_SECRET_LENGTH} characters, got ${secret.length}`,
    );
  }
  return { id: CLUSTER_KEY_ID, key: createSecretKey(Buffer.from(secret, 'utf8')) };
}

/** A session key: a UUID id and the 64 secret bytes that went (wrapped) to the peer. */
export function sessionKey(id: string, secret: Buffer): AuthKey {
  if (id === CLUSTER_KEY_ID || id.length === 0) {
    throw new AuthError('bad_key', `session key id ${JSON.stringify(id)} is not a usable session id`);
  }
  if (secret.length !== SESSION_SECRET_BYTES) {
    throw new AuthError(
      'bad_key',
      `session secret must be ${SESSION_SECRET_BYTES} bytes, got ${secret.length}`,
    );
  }
  return { id, key: createSecretKey(secret) };
}
