// Per-direction sessions (reference §5): the receiver of traffic issues the key that guards it.
//   outbound: keys peers issued to us, opened with init_session and rotated before they expire
//   inbound:  keys we issued to peers; the previous one stays valid for a short overlap
// The 64-byte secret travels wrapped under the requester's RSA key: RSA-OAEP (SHA-256) between
// tunmesh nodes; PKCS#1 v1.5 only toward an original node and only with legacy interop on. Which
// one is decided by the signed capability claim of the other side's token (capabilities.ts).
import type { KeyObject } from 'node:crypto';
import type { Logger } from '../log/logger.js';
import type { AuthKey } from '../auth/keys.js';
import type { ClusterKeys } from '../auth/cluster-keys.js';
import type { KeyLookup } from '../auth/tokens.js';
import { randomBytes, randomUUID } from 'node:crypto';
import { InboundSessions, OutboundSessions } from '../auth/sessions.js';
import { SESSION_SECRET_BYTES } from '../auth/keys.js';
import { parsePeerPublicKey, wrapSecret, unwrapSecret, type WrapScheme } from '../auth/rsa.js';
import { OAEP, wrapSchemeFor, type Capabilities } from './capabilities.js';
import { OFFERED_SECRET_BYTES, withAsk, type SessionOffer } from './session-offer.js';
import { MeshError } from './errors.js';
import type { KeySource, PeerApi, PeerTarget } from './peer-api.js';
import type { InitSessionRequest, InitSessionResponse } from './types.js';
import type { MeshTiming } from './timing.js';
import { errorMessage } from '../log/error-message.js';

export interface NodeKeyPair {
  publicKeyDerB64: string;
  privateKey: KeyObject;
}

export interface SessionEvents {
  rotated(peerId: string, kind: 'opened' | 'rotated'): void;
  failed(peerId: string): void;
  /** The outbound key toward a peer changed (workers need it for the data plane). */
  changed(peerId: string): void;
}

export class SessionManager implements KeySource {
  readonly inbound: InboundSessions;
  readonly outbound: OutboundSessions;
  private readonly pending = new Map<string, Promise<AuthKey>>();
  private readonly openedAt = new Map<string, number>();
  /** One ticket per negotiation in flight; forget() takes it, so a late answer stores nothing. */
  private readonly inFlight = new Map<string, symbol>();
  /** When we last answered a peer's registration with both sessions (session-offer.ts). */
  private readonly offeredAt = new Map<string, number>();
  /** When we last took both sessions from a peer's answer. */
  private readonly acceptedAt = new Map<string, number>();
  private api: PeerApi | undefined;
  /** Seconds an answer can arrive after its request was signed: how long two registrations may cross. */
  private readonly tokenLifetime: number;

  constructor(
    readonly selfId: string,
    readonly tokenClaims: Readonly<Record<string, unknown>>,
    readonly cluster: ClusterKeys,
    private readonly keyPair: NodeKeyPair,
    timing: MeshTiming,
    private readonly legacyInterop: boolean,
    /** Throws AuthError('downgrade') for a claim-less answer from a node known as tunmesh. */
    private readonly checkCapabilities: (peerId: string, capabilities: Capabilities | null) => void,
    private readonly events: SessionEvents,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {
    this.inbound = new InboundSessions({ maxAge: timing.sessionMaxAge, validity: timing.validityWindow, overlap: timing.sessionOverlap });
    this.outbound = new OutboundSessions({ maxAge: timing.sessionMaxAge, validity: timing.validityWindow });
    this.tokenLifetime = timing.validityWindow + timing.maxClockSkew;
  }

  /** The peer API and the session manager need each other; wired once at start. */
  attach(api: PeerApi): void {
    this.api = api;
  }

  outboundKey(peer: PeerTarget): Promise<AuthKey> {
    const key = this.outbound.get(peer.id, this.now());
    // While a rotation is under way the current key is still valid, and the rotation request
    // itself is signed with it: handing out the pending promise here would wait on itself.
    if (key && (!this.outbound.needsRotation(peer.id, this.now()) || this.pending.has(peer.id))) return Promise.resolve(key);
    return this.open(peer);
  }

  /** Open (or rotate) our outbound session toward a peer; concurrent callers share one request. */
  open(peer: PeerTarget): Promise<AuthKey> {
    const running = this.pending.get(peer.id);
    if (running) return running;
    // Deferred a tick so the pending entry exists before initSession asks for a signing key.
    const opening = Promise.resolve()
      .then(() => this.initSession(peer))
      .finally(() => this.pending.delete(peer.id));
    this.pending.set(peer.id, opening);
    return opening;
  }

  private async initSession(peer: PeerTarget): Promise<AuthKey> {
    if (!this.api) throw new Error('session manager used before attach()');
    const rotating = this.outbound.get(peer.id, this.now()) !== undefined;
    const request: InitSessionRequest = { public_key: this.keyPair.publicKeyDerB64 };
    const ticket = Symbol(peer.id);
    this.inFlight.set(peer.id, ticket);
    try {
      const { value: answer, capabilities } = await this.api.initSession(peer, request, rotating ? 'session' : 'cluster');
      const scheme = this.answerScheme(peer.id, capabilities);
      const secret = unwrapSecret(this.keyPair.privateKey, answer.secret, scheme);
      if (this.inFlight.get(peer.id) !== ticket) throw new MeshError('unknown_sender', `peer ${peer.id} left while its session opened`);
      this.outbound.set(peer.id, { id: answer.id, secret }, this.now());
      this.openedAt.set(peer.id, this.now());
      this.events.rotated(peer.id, rotating ? 'rotated' : 'opened');
      this.events.changed(peer.id);
      this.log.info(rotating ? 'session rotated' : 'session opened', { component: 'auth', peer: peer.id, session: answer.id, wrap: scheme });
      return this.outbound.get(peer.id, this.now()) as AuthKey;
    } catch (err) {
      this.events.failed(peer.id);
      this.log.warn('session negotiation failed', { component: 'auth', peer: peer.id, error: errorMessage(err) });
      throw err;
    } finally {
      if (this.inFlight.get(peer.id) === ticket) this.inFlight.delete(peer.id);
    }
  }

  /** The answer's signed claim says how its secret was wrapped: none means an original, PKCS#1 v1.5. */
  private answerScheme(peerId: string, capabilities: Capabilities | null): WrapScheme {
    this.checkCapabilities(peerId, capabilities);
    const scheme = wrapSchemeFor(capabilities, this.legacyInterop);
    if (scheme !== undefined) return scheme;
    throw new MeshError(
      'invalid',
      capabilities === null
        ? `peer ${peerId} is an original node and wraps session secrets with PKCS#1 v1.5; enable tunmesh.auth.legacy_pkcs1_interop to talk to original nodes`
        : `peer ${peerId} offers no key-wrap scheme we accept (${capabilities.wrap.join(', ') || 'none'})`,
    );
  }

  /** Server side of init_session: issue a fresh inbound key for `peerId`, wrapped as its token's claim asks. */
  issue(peerId: string, request: InitSessionRequest, capabilities: Capabilities | null): InitSessionResponse {
    const scheme = this.requestScheme(peerId, capabilities);
    try {
      parsePeerPublicKey(request.public_key); // refuse a bad key before replacing the current one
    } catch (err) {
      throw new MeshError('invalid', `public_key: ${errorMessage(err)}`);
    }
    const session = this.inbound.issue(peerId, this.now());
    const wrapped = wrapSecret(request.public_key, session.secret, scheme);
    this.log.info('session issued', { component: 'auth', peer: peerId, session: session.id, wrap: scheme });
    return { id: session.id, secret: wrapped };
  }

  private requestScheme(peerId: string, capabilities: Capabilities | null): WrapScheme {
    const scheme = wrapSchemeFor(capabilities, this.legacyInterop);
    if (scheme !== undefined) return scheme;
    throw new MeshError(
      'invalid',
      capabilities === null
        ? `node ${peerId} asks for a PKCS#1 v1.5 wrapped secret (an original node); legacy interop is disabled (tunmesh.auth.legacy_pkcs1_interop)`
        : `node ${peerId} offers no key-wrap scheme we accept (${capabilities.wrap.join(', ') || 'none'})`,
    );
  }

  /**
   * The claims of a first registration to a peer: ours, plus our public key asking the peer to
   * open both sessions in its answer (session-offer.ts); ours alone when we hold a session or are
   * opening one.
   */
  registrationClaims(peerId: string): Readonly<Record<string, unknown>> {
    if (this.outbound.get(peerId, this.now()) !== undefined || this.pending.has(peerId)) return this.tokenClaims;
    return withAsk(this.tokenClaims, this.keyPair.publicKeyDerB64);
  }

  /**
   * Answerer: a tunmesh node's first registration asked for both sessions with its public key.
   * Draws its key toward us and ours toward it, stores both, and returns them wrapped together;
   * undefined (the asker then uses init_session) when the asker does not take RSA-OAEP or its key
   * is not usable.
   */
  offer(peerId: string, publicKeyDerB64: string, capabilities: Capabilities | null): SessionOffer | undefined {
    if (wrapSchemeFor(capabilities, false) !== OAEP) return undefined;
    // Our own registration to this peer crossed its and we already took the pair the peer drew:
    // a second pair now would replace keys the peer keeps. The peer holds that pair too.
    if (this.within(this.acceptedAt.get(peerId))) return undefined;
    const back = { id: randomUUID(), secret: randomBytes(SESSION_SECRET_BYTES) };
    let wrapped: string;
    let theirs: { id: string; secret: Buffer };
    try {
      parsePeerPublicKey(publicKeyDerB64);
      theirs = this.inbound.issue(peerId, this.now());
      wrapped = wrapSecret(publicKeyDerB64, Buffer.concat([theirs.secret, back.secret]), OAEP);
    } catch (err) {
      this.log.warn('could not offer sessions with a registration; the peer will use init_session', { component: 'auth', peer: peerId, error: errorMessage(err) });
      return undefined;
    }
    this.outbound.set(peerId, back, this.now());
    this.openedAt.set(peerId, this.now());
    this.offeredAt.set(peerId, this.now());
    this.events.rotated(peerId, 'opened');
    this.events.changed(peerId);
    this.log.info('sessions offered with a registration', { component: 'auth', peer: peerId, theirs: theirs.id, ours: back.id });
    return { asker: theirs.id, answerer: back.id, secret: wrapped };
  }

  /**
   * Asker: the answer to our registration offered both sessions. Stores them unless two first
   * registrations crossed (each node answered the other's with an offer) and ours is the one both
   * keep: the node with the lower id wins, so both ends settle on one pair without a message.
   * False when nothing was taken (the caller falls back to init_session).
   */
  acceptOffer(peerId: string, offer: SessionOffer): boolean {
    if (this.within(this.offeredAt.get(peerId)) && this.selfId < peerId) return true;
    let secrets: Buffer;
    try {
      secrets = unwrapSecret(this.keyPair.privateKey, offer.secret, OAEP, OFFERED_SECRET_BYTES);
    } catch (err) {
      this.log.warn('could not take the sessions a registration offered; using init_session', { component: 'auth', peer: peerId, error: errorMessage(err) });
      return false;
    }
    if (!this.inbound.accept(peerId, { id: offer.answerer, secret: secrets.subarray(SESSION_SECRET_BYTES) }, this.now())) return false;
    this.outbound.set(peerId, { id: offer.asker, secret: secrets.subarray(0, SESSION_SECRET_BYTES) }, this.now());
    this.openedAt.set(peerId, this.now());
    this.offeredAt.delete(peerId);
    this.acceptedAt.set(peerId, this.now());
    this.events.rotated(peerId, 'opened');
    this.events.changed(peerId);
    this.log.info('sessions opened with a registration', { component: 'auth', peer: peerId, ours: offer.asker, theirs: offer.answerer });
    return true;
  }

  /** True for a time no older than a token's lifetime: two registrations may still be crossing. */
  private within(at: number | undefined): boolean {
    return at !== undefined && this.now() - at <= this.tokenLifetime;
  }

  inboundKeys(peerId: string): KeyLookup {
    return (keyId) => {
      const found = this.inbound.lookup(keyId, this.now());
      return found && found.peerId === peerId ? { key: found.key, peerId } : undefined;
    };
  }

  /** Any inbound key, bound to the peer it was issued to (for request verification). */
  readonly anyInboundKey: KeyLookup = (keyId) => {
    const found = this.inbound.lookup(keyId, this.now());
    return found ? { key: found.key, peerId: found.peerId } : undefined;
  };

  /**
   * A peer refused a request signed with our session `sessionId`. Only that session goes: several
   * workers report the same refusal, and a later report must not drop the key that replaced it.
   */
  outboundRejected(peerId: string, sessionId: string): void {
    const current = this.outbound.get(peerId, this.now());
    if (current?.id !== sessionId) return;
    this.log.info('peer refused our session, will renegotiate', { component: 'auth', peer: peerId, session: sessionId });
    this.outbound.drop(peerId);
    this.events.changed(peerId);
  }

  forget(peerId: string): void {
    this.inFlight.delete(peerId);
    this.offeredAt.delete(peerId);
    this.acceptedAt.delete(peerId);
    this.outbound.drop(peerId);
    this.inbound.forget(peerId);
    this.openedAt.delete(peerId);
  }

  /** Rotate every outbound session that is due; failures drop it (reopened on next use). */
  async rotateDue(peers: PeerTarget[]): Promise<void> {
    const due = peers.filter((p) => this.outbound.needsRotation(p.id, this.now()));
    await Promise.all(due.map((p) => this.open(p).catch(() => this.outbound.drop(p.id))));
    this.inbound.expire(this.now());
  }

  ageSeconds(peerId: string): number | undefined {
    const at = this.openedAt.get(peerId);
    return at === undefined ? undefined : this.now() - at;
  }
}
