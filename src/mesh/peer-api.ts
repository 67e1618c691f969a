// The original's control routes, as a client: every request carries a token signed over its
// exact body, and every 200 JSON answer must carry a token signed over the answer's bytes.
import { parseAuthHeader } from '../auth/header.js';
import { TokenSigner } from '../auth/signer.js';
import { verifyToken, type KeyLookup, type VerifiedToken } from '../auth/tokens.js';
import type { AuthKey } from '../auth/keys.js';
import type { ClusterKeys } from '../auth/cluster-keys.js';
import type { AuthErrorReason } from '../auth/errors.js';
import type { OutgoingHttpHeaders } from 'node:http';
import { HttpClient, PeerUnreachable, type HttpResponse } from './http-client.js';
import { AnswerTimes, answerKey } from './answer-times.js';
import type { Lane, Pacer } from './pacer.js';
import type { MeshTiming } from './timing.js';
import { capabilitiesOf, type Capabilities } from './capabilities.js';
import { offerOf, type SessionOffer } from './session-offer.js';
import { forSender, INIT_SESSION, NODE_INFO, REGISTER } from '../protocol/original-routes.js';
import {
  parseNodeIdentity,
  parseRegistration,
  parseInitSessionResponse,
  type InitSessionRequest,
  type InitSessionResponse,
  type Registration,
} from './types.js';

export type TokenMode = 'cluster' | 'session';

export interface PeerTarget {
  id: string;
  url: string;
}

/** The peer answered, but not with 200 (or 204). */
export class PeerRefused extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
    detail: string,
  ) {
    super(`${url} answered ${status}${detail ? `: ${detail}` : ''}`);
    this.name = 'PeerRefused';
  }
}

/** Where request and response keys come from: auth state owned by the session manager. */
export interface KeySource {
  selfId: string;
  /** Claims every token we sign carries (our capabilities). */
  tokenClaims: Readonly<Record<string, unknown>>;
  /** The cluster secret that signs, and those also accepted (rotation). */
  cluster: ClusterKeys;
  /** Our outbound session key toward a peer, opening one when needed. */
  outboundKey(peer: PeerTarget): Promise<AuthKey>;
  /** Keys that may sign a peer's session-token answers (what we issued it). */
  inboundKeys(peerId: string): KeyLookup;
  /** A request signed with outbound session `sessionId` failed with a 4xx: drop that session. */
  outboundRejected(peerId: string, sessionId: string): void;
  /** The claims of a first (cluster-signed) registration: ours, asking for sessions when we have none. */
  registrationClaims(peerId: string): Readonly<Record<string, unknown>>;
  /** The answer to our registration offered both sessions (session-offer.ts): true when they are in place. */
  acceptOffer(peerId: string, offer: SessionOffer): boolean;
}

/** A signed answer and the capabilities its token announced (null: an original node). */
export interface Signed<T> {
  value: T;
  capabilities: Capabilities | null;
}

/** How a request is sent: its lane in the pacer (default: keep for session tokens, grow otherwise). */
export interface RequestOptions {
  lane?: Lane;
  /** Wait as long as any answer may take (a last probe before a silent peer is dropped). */
  patient?: boolean;
  /** Dial this address instead of resolving the URL's host (a bootstrap name's record; bootstrap-dns.ts). */
  address?: string;
}

export interface PeerApi {
  nodeInfo(url: string, opts?: RequestOptions): Promise<{ id: string; listen_url: string }>;
  register(peer: PeerTarget, reg: Registration, mode: TokenMode, opts?: RequestOptions): Promise<Signed<Registration>>;
  initSession(peer: PeerTarget, req: InitSessionRequest, mode: TokenMode, opts?: RequestOptions): Promise<Signed<InitSessionResponse>>;
}

/**
 * The least a request that adds a link (grow lane) waits: a first contact pays a TCP and TLS
 * handshake at a peer that, in a cold start, is busy with everyone else's. Timing it out after
 * the 1 s that a warm peer needs throws away the handshake the peer already did and sends a new
 * one; the grow lane is bounded (pacer.ts), so waiting holds one slot, not the node. A peer
 * that is down refuses at once and is not waited for.
 */
const FIRST_CONTACT_MS = 5000;

export class HttpPeerApi implements PeerApi {
  private readonly signer: TokenSigner;

  constructor(
    private readonly http: Pick<HttpClient, 'request'>,
    private readonly keys: KeySource,
    private readonly timing: MeshTiming,
    private readonly pacer: Pacer,
    readonly answerTimes: AnswerTimes,
  ) {
    this.signer = new TokenSigner(keys, timing);
  }

  async nodeInfo(url: string, opts: RequestOptions = {}): Promise<{ id: string; listen_url: string }> {
    const res = await this.send(opts.lane ?? 'grow', opts, 'GET', join(url, NODE_INFO), undefined);
    if (res.status !== 200) throw new PeerRefused(url, res.status, res.body.toString('utf8', 0, 200));
    return parseNodeIdentity(parseBody(url, res));
  }

  async register(peer: PeerTarget, reg: Registration, mode: TokenMode, opts: RequestOptions = {}): Promise<Signed<Registration>> {
    const path = mode === 'cluster' ? REGISTER : forSender(REGISTER, this.keys.selfId);
    const claims = mode === 'cluster' ? this.keys.registrationClaims(peer.id) : this.keys.tokenClaims;
    const answer = await this.signedPost(peer, path, JSON.stringify(reg), mode, opts, claims);
    const value = parseRegistration(answer.body);
    const offer = claims === this.keys.tokenClaims ? undefined : offerOf(answer.extraClaims);
    if (offer && value.local.id === peer.id) this.keys.acceptOffer(peer.id, offer);
    return { value, capabilities: answer.capabilities };
  }

  async initSession(peer: PeerTarget, req: InitSessionRequest, mode: TokenMode, opts: RequestOptions = {}): Promise<Signed<InitSessionResponse>> {
    const path = mode === 'cluster' ? INIT_SESSION : forSender(INIT_SESSION, this.keys.selfId);
    const answer = await this.signedPost(peer, path, JSON.stringify(req), mode, opts);
    return { value: parseInitSessionResponse(answer.body), capabilities: answer.capabilities };
  }

  /**
   * One request through the pacer, waiting as long as this peer's answers have lately taken
   * (answer-times.ts); a timeout makes the next wait longer rather than the next retry sooner.
   */
  private async send(lane: Lane, opts: RequestOptions, method: 'GET' | 'POST', url: string, body: string | undefined, headers: HeaderSource = NO_HEADERS): Promise<HttpResponse> {
    const key = answerKey(url);
    return this.pacer.run(lane, async () => {
      const sentHeaders = await headers();
      const timeoutMs = opts.patient ? this.answerTimes.ceilingMs : Math.max(this.answerTimes.timeoutMs(key), lane === 'grow' ? FIRST_CONTACT_MS : 0);
      const started = performance.now();
      try {
        const res = await this.http.request(method, url, body, sentHeaders, timeoutMs, opts.address);
        this.answerTimes.answered(key, performance.now() - started);
        return res;
      } catch (err) {
        if (err instanceof PeerUnreachable && err.timedOut) this.answerTimes.timedOut(key);
        throw err;
      }
    });
  }

  private async signedPost(
    peer: PeerTarget,
    path: string,
    body: string,
    mode: TokenMode,
    opts: RequestOptions,
    claims: Readonly<Record<string, unknown>> = this.keys.tokenClaims,
  ): Promise<{ body: unknown; capabilities: Capabilities | null; extraClaims: Readonly<Record<string, unknown>> }> {
    // The key is found before a slot is taken (opening a session to sign with takes a slot of
    // its own), but the token is signed in the slot, as the request leaves: signed earlier, it
    // would age in the pacer's queue and, under overload, reach the peer expired
    // (validity_window), a refusal that costs a retry and, before this, a good session.
    const key = mode === 'cluster' ? this.keys.cluster.signing : await this.keys.outboundKey(peer);
    const lane = opts.lane ?? (mode === 'session' ? 'keep' : 'grow');
    const res = await this.send(lane, opts, 'POST', join(peer.url, path), body, async () => ({ authorization: await this.signer.authorization(key, peer.id, body, claims) }));
    if (res.status !== 200) {
      if (mode === 'session' && res.status >= 400 && res.status < 500 && !refusedForItsTimes(res)) this.keys.outboundRejected(peer.id, key.id);
      throw new PeerRefused(peer.url, res.status, res.body.toString('utf8', 0, 200));
    }
    const verified = await this.verifyAnswer(peer, res, mode);
    return { body: parseBody(peer.url, res), capabilities: capabilitiesOf(verified.extraClaims), extraClaims: verified.extraClaims };
  }

  /** The answer must be signed by the peer, for us, over these exact bytes. */
  private async verifyAnswer(peer: PeerTarget, res: HttpResponse, mode: TokenMode): Promise<VerifiedToken> {
    const header = res.headers.authorization;
    const token = parseAuthHeader(Array.isArray(header) ? header[0] : header);
    const options = { audience: this.keys.selfId, issuer: peer.id, body: res.body, maxClockSkew: this.timing.maxClockSkew };
    if (mode === 'cluster') return this.keys.cluster.verify(token, options);
    return verifyToken(token, { ...options, keys: this.keys.inboundKeys(peer.id) });
  }

}

type HeaderSource = () => OutgoingHttpHeaders | Promise<OutgoingHttpHeaders>;
const NO_HEADERS: HeaderSource = () => ({});

/**
 * A refusal of the token's times (our answer body names `expired` or `not_yet_valid`) says the
 * request was late or a clock is off, not that the session's key is bad: the session is kept.
 * An original names no reason, so its refusals still drop the session, as it expects.
 */
const TIME_REFUSALS: ReadonlySet<unknown> = new Set<AuthErrorReason>(['expired', 'not_yet_valid']);

function refusedForItsTimes(res: HttpResponse): boolean {
  try {
    return TIME_REFUSALS.has((JSON.parse(res.body.toString('utf8')) as { reason?: unknown }).reason);
  } catch {
    return false;
  }
}

function join(base: string, path: string): string {
  return base.replace(/\/+$/, '') + path;
}

function parseBody(url: string, res: HttpResponse): unknown {
  try {
    return JSON.parse(res.body.toString('utf8')) as unknown;
  } catch {
    throw new PeerRefused(url, res.status, 'answer is not JSON');
  }
}
