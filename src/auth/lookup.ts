/**
 * The key lookup a server uses: `Cluster Auth` selects the cluster key, any other `sub` one of the
 * session keys we issued (which also binds the token's issuer to that key's peer).
 */
import { CLUSTER_KEY_ID, type AuthKey } from './keys.js';
import type { InboundSessions } from './sessions.js';
import type { KeyLookup } from './tokens.js';

export interface KeyLookupOptions {
  /** Accept cluster tokens (registration, first init_session). */
  cluster?: AuthKey;
  /** Accept session tokens signed with keys we issued. */
  inbound?: InboundSessions;
  now?: () => number;
}

export function keyLookup(options: KeyLookupOptions): KeyLookup {
  return (keyId) => {
    if (keyId === CLUSTER_KEY_ID) {
      return options.cluster ? { key: options.cluster } : undefined;
    }
    return options.inbound?.lookup(keyId, options.now?.());
  };
}
