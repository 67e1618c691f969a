/**
 * The auth library: tokens (HS256, the original's claims), the `Bearer:` header, cluster and
 * session keys, the replay cache, RSA wrapping of session secrets and per-direction session state.
 * No HTTP here: src/api wires these into Koa middleware and the node-to-node client.
 */
export { AuthError, type AuthErrorReason } from './errors.js';
export { formatAuthHeader, parseAuthHeader } from './header.js';
export {
  clusterKey,
  sessionKey,
  CLUSTER_KEY_ID,
  SESSION_SECRET_BYTES,
  type AuthKey,
} from './keys.js';
export {
  bodySignature,
  signToken,
  verifyToken,
  type KeyLookup,
  type LookedUpKey,
  type SignTokenOptions,
  type TokenClaims,
  type VerifiedToken,
  type VerifyTokenOptions,
} from './tokens.js';
export { ReplayCache, type ReplayCacheOptions } from './replay.js';
export { TokenSigner, type TokenIssuer, type TokenWindows } from './signer.js';
export {
  generateNodeKeyPair,
  parsePeerPublicKey,
  unwrapSecret,
  wrapSecret,
  MIN_RSA_BITS,
  type NodeKeyPair,
  type WrapScheme,
} from './rsa.js';
export {
  InboundSessions,
  OutboundSessions,
  type InboundKey,
  type InboundSessionsOptions,
  type IssuedSession,
  type SessionTiming,
} from './sessions.js';
export { keyLookup, type KeyLookupOptions } from './lookup.js';
export { ClusterKeys } from './cluster-keys.js';
