/**
 * Session keys, one set per direction of each peer link.
 *
 *   - Inbound (`InboundSessions`): keys *we* issued to peers in answer to their init_session. They
 *     guard what we receive: a peer signs its requests to us with the key we gave it.
 *   - Outbound (`OutboundSessions`): keys peers issued to *us*. We sign what we send to them.
 *
 * Rotation overlap: the original replaces a peer's inbound key the moment it issues a new one, so
 * requests the peer signed just before rotating fail once. Like wireguard-go, which keeps the
 * previous keypair next to the current one, we keep the superseded key valid for an `overlap`
 * window (validity_window + clock skew is enough: no token signed with the old key outlives that).
 *
 * Times are unix seconds and every method takes `now`, so tests and the grooming loop control it.
 */
import { randomBytes, randomUUID } from 'node:crypto';

import { nowSeconds } from './clock.js';
import { sessionKey, SESSION_SECRET_BYTES, type AuthKey } from './keys.js';

/** A session as it travels: the key id and the raw secret (wrapped with RSA on the wire). */
export interface IssuedSession {
  id: string;
  secret: Buffer;
}

export interface SessionTiming {
  /** session_max_age, seconds. */
  maxAge: number;
  /** validity_window, seconds: how long a token signed with a key stays usable. */
  validity: number;
}

export interface InboundSessionsOptions extends SessionTiming {
  /** Seconds a superseded key keeps verifying after its replacement is issued; 0 = the original. */
  overlap: number;
}

export interface InboundKey {
  peerId: string;
  key: AuthKey;
}

interface InboundEntry extends InboundKey {
  issuedAt: number;
  supersededAt?: number;
}

interface PeerInboundKeys {
  current: InboundEntry;
  previous?: InboundEntry;
}

export class InboundSessions {
  private readonly byId = new Map<string, InboundEntry>();
  private readonly byPeer = new Map<string, PeerInboundKeys>();

  constructor(private readonly options: InboundSessionsOptions) {}

  /** Makes a new key for a peer; its current key becomes the previous one, an older one goes. */
  issue(peerId: string, now: number = nowSeconds()): IssuedSession {
    const session: IssuedSession = { id: randomUUID(), secret: randomBytes(SESSION_SECRET_BYTES) };
    this.accept(peerId, session, now);
    return session;
  }

  /**
   * Takes a key the peer drew for its traffic to us (a registration's session offer), as if we
   * had issued it: it becomes the current key, the one it replaces stays for the overlap. False,
   * and nothing stored, when the id is already taken: a peer must not replace another's key.
   */
  accept(peerId: string, session: IssuedSession, now: number = nowSeconds()): boolean {
    if (this.byId.has(session.id)) return false;
    const entry: InboundEntry = { peerId, key: sessionKey(session.id, session.secret), issuedAt: now };
    const existing = this.byPeer.get(peerId);
    if (existing?.previous) this.byId.delete(existing.previous.key.id);
    if (existing) existing.current.supersededAt = now;
    this.byPeer.set(peerId, { current: entry, previous: existing?.current });
    this.byId.set(entry.key.id, entry);
    return true;
  }

  /** The live key with this id and the peer it belongs to; fits `verifyToken`'s `KeyLookup`. */
  lookup(keyId: string, now: number = nowSeconds()): InboundKey | undefined {
    const entry = this.byId.get(keyId);
    if (entry === undefined || !this.isLive(entry, now)) return undefined;
    return { peerId: entry.peerId, key: entry.key };
  }

  /** True when the peer holds a live key from us. */
  has(peerId: string, now: number = nowSeconds()): boolean {
    const keys = this.byPeer.get(peerId);
    return keys !== undefined && this.isLive(keys.current, now);
  }

  /** Drops every key of a peer (it left the mesh, or restarted under a new id). */
  forget(peerId: string): void {
    const keys = this.byPeer.get(peerId);
    if (keys === undefined) return;
    this.byId.delete(keys.current.key.id);
    if (keys.previous) this.byId.delete(keys.previous.key.id);
    this.byPeer.delete(peerId);
  }

  /** Frees keys that can no longer verify; `lookup` already ignores them, this bounds memory. */
  expire(now: number = nowSeconds()): void {
    for (const [peerId, keys] of this.byPeer) {
      if (keys.previous && !this.isLive(keys.previous, now)) {
        this.byId.delete(keys.previous.key.id);
        keys.previous = undefined;
      }
      if (!this.isLive(keys.current, now)) this.forget(peerId);
    }
  }

  /**
   * The original expires an inbound key older than session_max_age + validity_window (3630 s):
   * the peer rotates at maxAge - validity, so a healthy peer never gets near it.
   */
  private isLive(entry: InboundEntry, now: number): boolean {
    const { maxAge, validity, overlap } = this.options;
    if (now - entry.issuedAt > maxAge + validity) return false;
    return entry.supersededAt === undefined || now - entry.supersededAt < overlap;
  }
}

interface OutboundEntry {
  key: AuthKey;
  receivedAt: number;
}

export class OutboundSessions {
  private readonly byPeer = new Map<string, OutboundEntry>();

  constructor(private readonly timing: SessionTiming) {}

  /** Stores the session a peer issued to us (after unwrapping its secret). */
  set(peerId: string, session: IssuedSession, now: number = nowSeconds()): AuthKey {
    const key = sessionKey(session.id, session.secret);
    this.byPeer.set(peerId, { key, receivedAt: now });
    return key;
  }

  /**
   * The key to sign requests to a peer with; undefined when we have none or the peer has surely
   * expired it already (older than maxAge + validity), which saves a round trip ending in 401.
   */
  get(peerId: string, now: number = nowSeconds()): AuthKey | undefined {
    const entry = this.byPeer.get(peerId);
    if (entry === undefined) return undefined;
    if (now - entry.receivedAt > this.timing.maxAge + this.timing.validity) return undefined;
    return entry.key;
  }

  /**
   * True once the session is maxAge - validity old (3570 s by default): rotating then means every
   * token signed with it expires before the peer drops the key. False when there is no session:
   * that is an init (cluster token), not a rotation; check `get` for it.
   */
  needsRotation(peerId: string, now: number = nowSeconds()): boolean {
    const age = this.ageSeconds(peerId, now);
    return age !== undefined && age >= this.timing.maxAge - this.timing.validity;
  }

  /** Forgets a peer's session, e.g. after any 4xx to a session-signed request. */
  drop(peerId: string): void {
    this.byPeer.delete(peerId);
  }

  ageSeconds(peerId: string, now: number = nowSeconds()): number | undefined {
    const entry = this.byPeer.get(peerId);
    return entry === undefined ? undefined : now - entry.receivedAt;
  }
}
