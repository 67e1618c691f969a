/**
 * A bounded replay cache for cluster tokens.
 *
 * The original has no replay protection: anyone who captures a cluster-signed request can send it
 * again for its whole validity (30 s). We accept each cluster token once. Session tokens are not
 * cached: they authenticate the packet path, where the cost of a lookup per request matters and a
 * replayed packet is harmless at layer 3 (the inner protocols handle duplicates).
 *
 * Trade-off of the bound: only tokens that passed every other check are remembered, so filling the
 * cache needs the cluster secret. When more than `maxEntries` cluster tokens arrive within one
 * validity window, the oldest entries are evicted and those tokens could be replayed until they
 * expire. We prefer that to the alternative — refusing new tokens while full — because that would
 * let a burst of registrations lock every new node out of the cluster. The default bound is far
 * above what a mesh's registration traffic produces in 30 s.
 */
import { nowSeconds } from './clock.js';

const DEFAULT_REPLAY_CACHE_ENTRIES = 10_000;

export interface ReplayCacheOptions {
  /** Most tokens remembered at once; the oldest are evicted beyond it. */
  maxEntries?: number;
  /**
   * Extra seconds to remember a token beyond the `expSeconds` passed in (default 0). `verifyToken`
   * already passes exp + its own clock skew, so a cache used through it needs none; a larger
   * value only keeps entries a little longer, which is safe.
   */
  skewSeconds?: number;
}

export class ReplayCache {
  /** token id -> unix seconds after which the token can no longer verify. Insertion-ordered. */
  private readonly seen = new Map<string, number>();
  private readonly maxEntries: number;
  private readonly skewSeconds: number;

  constructor(options: ReplayCacheOptions = {}) {
    this.maxEntries = Math.max(1, Math.floor(options.maxEntries ?? DEFAULT_REPLAY_CACHE_ENTRIES));
    this.skewSeconds = Math.max(0, options.skewSeconds ?? 0);
  }

  get size(): number {
    return this.seen.size;
  }

  /**
   * True the first time a token is seen, and remembers it until `expSeconds` (+ skewSeconds);
   * false when it was already seen and is still remembered, i.e. a replay. Pass the last moment
   * the token could still verify: its `exp` plus the verifier's clock skew (`verifyToken` does).
   */
  checkAndRemember(token: string, expSeconds: number, now: number = nowSeconds()): boolean {
    this.sweep(now);
    const id = tokenId(token);
    const forgetAt = this.seen.get(id);
    if (forgetAt !== undefined && forgetAt >= now) {
      return false;
    }
    this.seen.delete(id); // re-insert at the end so insertion order stays age order
    this.seen.set(id, expSeconds + this.skewSeconds);
    this.evictOverflow();
    return true;
  }

  /**
   * Drops expired entries from the front. Tokens share one validity window, so insertion order is
   * nearly expiry order; an expired entry stuck behind a longer-lived one is only kept a little
   * longer and is ignored by the lookup.
   */
  private sweep(now: number): void {
    for (const [id, forgetAt] of this.seen) {
      if (forgetAt >= now) return;
      this.seen.delete(id);
    }
  }

  private evictOverflow(): void {
    for (const id of this.seen.keys()) {
      if (this.seen.size <= this.maxEntries) return;
      this.seen.delete(id);
    }
  }
}

/**
 * Identifies a token by its decoded signature bytes. Not by the signature text: base64url decoders
 * ignore the unused low bits of the last character, so one signature has several spellings that
 * all verify, and keying on the text would let a replay through with one character changed.
 */
function tokenId(token: string): string {
  const signature = token.slice(token.lastIndexOf('.') + 1);
  return Buffer.from(signature, 'base64url').toString('hex');
}
