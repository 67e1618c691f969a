/**
 * The auth library: tokens (HS256, the original's claims), the `Bearer:` header, cluster and
 * session keys, the replay cache, RSA wrapping of session secrets and per-direction session state.
 * No HTTP here: src/api wires these into Koa middleware and the node-to-node client.
 */
export { AuthError, isAuthError, type AuthErrorReason } from './errors.js';
export { formatAuthHeader, parseAuthHeader } from './header.js';
export {
  clusterKey,
  sessionKey,
  CLUSTER_KEY_ID,
  MIN_CLUSTER_SECRET_LENGTH,
  SESSION_SECRET_BYTES,
  type AuthKey,
} from './keys.js';
export {
  bodySignature,
  signToken,
  verifyToken,
  MAX_CLOCK_SKEW_SECONDS,
  MAX_TOKEN_LENGTH,
  TOKEN_ALGORITHM,
  type KeyLookup,
  type LookedUpKey,
  type SignTokenOptions,
  type TokenClaims,
  type VerifiedToken,
  type VerifyTokenOptions,
} from './tokens.js';
export { ReplayCache, DEFAULT_REPLAY_CACHE_ENTRIES, type ReplayCacheOptions } from './replay.js';
export {
  generateNodeKeyPair,
  parsePeerPublicKey,
  unwrapSecret,
  wrapSecret,
  MAX_RSA_BITS,
  MIN_RSA_BITS,
  type NodeKeyPair,
  type WrapScheme,
} from './rsa.js';
export {
  InboundSessions,
  OutboundSessions,
  DEFAULT_SESSION_MAX_AGE,
  DEFAULT_VALIDITY_WINDOW,
  type InboundKey,
  type InboundSessionsOptions,
  type IssuedSession,
  type SessionTiming,
} from './sessions.js';
export { keyLookup, type KeyLookupOptions } from './lookup.js';
export { ClusterKeys } from './cluster-keys.js';
