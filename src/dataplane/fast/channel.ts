// One persistent fast-path channel to one peer, from one worker: TLS, one authenticated HTTP/1.1
// Upgrade (handshake.ts), then `[u16 length][packet]` frames (v1), or
// `[u32 length][virtio_net_hdr][packet]` frames (v2, both ends with TUN offloads: a GSO
// super-packet whole), until either side closes. Its life is one explicit state:
//
//   state     event                                   next state
//   down      a packet (no backoff pending)           dialing
//   dialing   101                                     open
//             failed on the channel port              dialing (the API port, same attempt)
//             failed otherwise                        down, with a backoff
//   open      a new session, or the port probe        renewing
//             its socket closed                       down, with a backoff
//             idle for channelIdleMs                  down
//   renewing  the successor's 101                     open, on the successor
//             the successor failed                    open, on the old socket (retried)
//             the old socket closed                   dialing, on the successor
//             idle for channelIdleMs                  down
//   any       the peer moved (URL, channel port)      its sockets are destroyed: as closed above
//   any       close() (the peer left, worker stops)   closed: nothing dials again
// Each transition is a method in the "transitions" section below, named after the event.
//
//   1. demand    `down`: nothing is dialled until the first packet toward the peer: that packet
//                opens the channel (dial.ts), and it and those after it wait in the slab
//                (step 2). A channel that carried nothing for channelIdleMs is ended gracefully
//                and gives its slabs back; the next packet opens it again. So a worker holds
//                sockets and slabs for the peers it talks to, not for the whole mesh (nebula
//                opens tunnels the same way).
//   2. dialing   up to CONNECTING_LIMIT_BYTES of frames wait in the slab and go out with the 101
//                (so the first packets to a new peer, a TCP SYN say, are not lost); an attempt is
//                bounded by the upgrade timeout, after which they are discarded with the
//                connection. Where it dials is the port policy's (port-policy.ts): the peer's
//                channel port, and a dial there that fails goes straight on to the API port with
//                the held frames. Any other failure: `down` with a backoff, BACKOFF_MIN_MS ..
//                BACKOFF_MAX_MS with jitter, growing with each failure, packets dropped
//                `node_close` meanwhile (not queued: TCP inside the tunnel retransmits, and
//                queued packets would arrive stale); the first packet after it dials again.
//   3. open      append() copies each packet once, behind its length, into the slab (slab.ts);
//                flush() hands the batch to the socket in ONE write. Bounded: while the socket
//                holds more than queueLimit * MTU unsent bytes, packets are dropped `queue_full`
//                (small ones only past an allowance beyond that: full()); behind it the
//                kernel's TCP buffers, bounded too (socket-queue.ts), are the only queue. Auth
//                was checked once, at the upgrade; a 401/403 there tells main the session was
//                refused.
//   4. renewing  a channel lives no longer than the session it was opened with (the receiver
//                closes it once that key stops verifying). When main hands us a new session, a
//                successor opens under it beside the open socket (make before break); once it
//                has its 101 the pending batch goes out on the old socket, which is ended
//                gracefully, and frames go to the successor in a fresh slab (the old socket may
//                still hold the old slabs). A successor that fails leaves the channel `open`,
//                to try again after RENEW_RETRY_MS; an old socket that closes first leaves the
//                successor `dialing`. The port probe (port-policy.ts) is a renewal too.
import type { TLSSocket } from 'node:tls';
import type { PeerRoute } from '../contract.js';
import type { DropReason } from '../drop-reasons.js';
import type { PeerCounters } from '../metrics.js';
import type { PeerTransport, TransportDeps } from '../transport.js';
import { VNET_GSO_NONE, VNET_HDR_LEN, vnetGsoType } from '../../tun/vnet.js';
import { dialChannel, type Connect, type ResumeTicket } from './dial.js';
import { frameHeaderBytes } from './frames.js';
import { CHANNEL_PORT_RETRY_MS, PortPolicy, type ChannelTarget } from './port-policy.js';
import { FrameSlab } from './slab.js';

const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;
/** Frames held while the channel opens: a few dozen packets, a small fraction of a slab. */
const CONNECTING_LIMIT_BYTES = 64 * 1024;
/** A renewal that failed (the open channel still works) is tried again after this. */
const RENEW_RETRY_MS = 500;
/** The least a v2 channel may hold unsent: four 64 KB super-packets. */
const MIN_LIMIT_V2 = 4 * 65536;
/**
 * A packet this small (an ACK, a DNS query, an RPC request) is still taken when the queue is
 * full, up to SMALL_ALLOWANCE_BYTES beyond it: a bulk stream fills the queue, and tail-dropping
 * the small packets of a light flow behind it costs that flow a retransmission timeout (200 ms
 * at the least; measured 207 ms p99 in a ping-pong under bulk with a small queue), where a
 * dropped bulk packet costs its stream a fast retransmit.
 */
const SMALL_PACKET_BYTES = 512;
const SMALL_ALLOWANCE_BYTES = 64 * 1024;

/** The channel's state; the sockets live in it, so no socket outlives the state that owns it. */
export type ChannelState =
  /** No connection. The next packet dials, unless a failed attempt is backing off until `retryAt` (performance.now() ms). */
  | { readonly kind: 'down'; readonly retryAt: number }
  /** A connection attempt under way; frames wait in the slab for its 101. */
  | { readonly kind: 'dialing'; readonly socket: TLSSocket }
  /** Carrying frames, opened under session `session`. */
  | { readonly kind: 'open'; readonly socket: TLSSocket; readonly session: string }
  /** Carrying frames while `successor` opens under a newer session (or on the channel port) to take over. */
  | { readonly kind: 'renewing'; readonly socket: TLSSocket; readonly session: string; readonly successor: TLSSocket }
  | { readonly kind: 'closed' };

export type ChannelStateKind = ChannelState['kind'];

const DOWN: ChannelState = { kind: 'down', retryAt: 0 };

export interface FastChannelOptions {
  /** How the TLS connection is opened (default tls.connect). */
  connect?: Connect;
}

export class FastChannel implements PeerTransport {
  readonly path = 'fast' as const;
  /** Fixed for the channel's life: a peer announcing other framing gets a new channel (send.ts). */
  readonly frames: 1 | 2;
  epoch = -1;
  private state: ChannelState = DOWN;
  private readonly slab: FrameSlab;
  private readonly ports = new PortPolicy();
  /** Failed attempts in a row: the backoff grows with them. */
  private attempt = 0;
  /** A TLS session of this peer's, for resuming the next dial instead of a full handshake. */
  private tlsSession: ResumeTicket | undefined;
  /** When flush() last handed the socket bytes (performance.now() ms): the idle check reads it. */
  private lastSend = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private batchPackets = 0;
  private batchBytes = 0;
  private batchSuper = 0;
  private readonly limitBytes: number;
  private readonly counters: PeerCounters;

  constructor(
    private peer: PeerRoute,
    private readonly deps: TransportDeps,
    private readonly opts: FastChannelOptions = {},
  ) {
    this.frames = peer.frames ?? 1;
    this.slab = new FrameSlab(frameHeaderBytes(this.frames));
    // A few super-packets at least, whatever the MTU.
    this.limitBytes = Math.max(deps.settings.queueLimit * deps.mtu, this.frames === 2 ? MIN_LIMIT_V2 : 0);
    this.counters = deps.metrics.forPeer(peer.id);
  }

  /** Which state the channel is in (for status and tests). */
  get stateKind(): ChannelStateKind {
    return this.state.kind;
  }

  // ---- the packets (steps 1-3) ------------------------------------------------------------

  append(buf: Buffer, off: number, len: number): DropReason | null {
    if (this.peer.session === null) return 'no_session';
    let s = this.state;
    if (s.kind === 'down') {
      if (performance.now() < s.retryAt) return 'node_close';
      s = this.dial(); // on demand: this packet waits in the slab for the 101
    }
    if (s.kind === 'closed') return 'node_close';
    if (s.kind === 'dialing') return this.holdWhileDialing(buf, off, len);
    if (this.full(s.socket.writableLength + this.slab.pending, len)) return 'queue_full';
    if (!this.slab.fits(len)) {
      this.flush();
      this.slab.next(s.socket.writableLength);
    }
    this.frame(buf, off, len);
    return null;
  }

  /** Step 3's bound: `queued` bytes wait already; small packets get an allowance beyond it. */
  private full(queued: number, len: number): boolean {
    if (queued <= this.limitBytes) return false;
    return len > SMALL_PACKET_BYTES || queued > this.limitBytes + SMALL_ALLOWANCE_BYTES;
  }

  /** Before the 101: frame into the slab, unsent, within CONNECTING_LIMIT_BYTES. */
  private holdWhileDialing(buf: Buffer, off: number, len: number): DropReason | null {
    if (this.slab.pending + frameHeaderBytes(this.frames) + len > CONNECTING_LIMIT_BYTES || !this.slab.fits(len)) return 'queue_full';
    this.frame(buf, off, len);
    return null;
  }

  /** One packet into the pending batch (the caller checked room). */
  private frame(buf: Buffer, off: number, len: number): void {
    this.slab.append(buf, off, len);
    if (this.frames === 2) {
      this.batchBytes += len - VNET_HDR_LEN;
      if (vnetGsoType(buf, off) !== VNET_GSO_NONE) this.batchSuper++;
    } else this.batchBytes += len;
    this.batchPackets++;
  }

  flush(): void {
    const s = this.state;
    if ((s.kind !== 'open' && s.kind !== 'renewing') || this.slab.pending === 0) return;
    s.socket.write(this.slab.takeBatch());
    this.lastSend = performance.now();
    if (s.socket.writableLength === 0) this.slab.drained();
    this.counters.txPackets.inc(this.batchPackets);
    this.counters.txBytes.inc(this.batchBytes);
    this.deps.metrics.superPackets('tx', this.batchSuper);
    this.resetBatchCounts();
  }

  private resetBatchCounts(): void {
    this.batchPackets = this.batchBytes = this.batchSuper = 0;
  }

  // ---- what main tells us -----------------------------------------------------------------

  update(peer: PeerRoute): void {
    const moved = peer.url !== this.peer.url || peer.channelPort !== this.peer.channelPort;
    this.peer = peer;
    const s = this.state;
    if (moved) {
      // The sockets' close events take the channel down; the next packet dials the new place.
      if (s.kind === 'renewing') s.successor.destroy();
      if (s.kind !== 'down' && s.kind !== 'closed') s.socket.destroy();
    } else this.renewIfStale();
  }

  close(): void {
    const s = this.state;
    this.state = { kind: 'closed' };
    clearTimeout(this.idleTimer);
    clearTimeout(this.renewTimer);
    clearTimeout(this.probeTimer);
    if (s.kind === 'renewing') s.successor.destroy();
    if (s.kind === 'dialing' || s.kind === 'open' || s.kind === 'renewing') s.socket.destroy();
  }

  // ---- the transitions --------------------------------------------------------------------

  /** down -> dialing (or dialing -> dialing: the same attempt, on to the API port). */
  private dial(): Extract<ChannelState, { kind: 'dialing' }> {
    this.slab.ensure();
    const dialing = { kind: 'dialing', socket: this.dialOnce() } as const;
    this.state = dialing;
    return dialing;
  }

  /** open -> renewing: make before break, a successor under the current session. */
  private renew(): void {
    const s = this.state;
    if (s.kind !== 'open') return;
    this.state = { kind: 'renewing', socket: s.socket, session: s.session, successor: this.dialOnce() };
  }

  private renewIfStale(): void {
    const s = this.state;
    if (s.kind === 'open' && this.peer.session !== null && this.peer.session.id !== s.session) this.renew();
  }

  /** One dial to where the port policy says, reporting back to upgraded() and closed(). */
  private dialOnce(): TLSSocket {
    const target = this.ports.target(this.peer);
    return dialChannel(
      {
        target,
        peer: () => this.peer,
        version: this.frames,
        deps: this.deps,
        tlsSession: this.tlsSession,
        ...(this.opts.connect === undefined ? {} : { connect: this.opts.connect }),
      },
      {
        upgraded: (socket, sessionId) => this.upgraded(socket, sessionId, target),
        closed: (socket, upgraded) => this.closed(socket, upgraded, target),
        session: (ticket) => (this.tlsSession = ticket),
      },
    );
  }

  /** A socket got its 101: dialing -> open, or renewing -> open on the successor. */
  private upgraded(socket: TLSSocket, sessionId: string, target: ChannelTarget): void {
    const onChannelPort = this.ports.upgraded(target, this.peer);
    const s = this.state;
    if (s.kind === 'dialing' && s.socket === socket) this.opened(socket, sessionId, onChannelPort);
    else if (s.kind === 'renewing' && s.successor === socket) this.takeOver(s.socket, socket, sessionId, onChannelPort);
    else socket.destroy(); // the channel moved on meanwhile (closed, idle, or the peer moved)
  }

  /** dialing -> open: what waited in the slab goes out. */
  private opened(socket: TLSSocket, sessionId: string, onChannelPort: boolean): void {
    this.state = { kind: 'open', socket, session: sessionId };
    this.ports.carrying(onChannelPort);
    this.armPortProbe();
    this.lastSend = performance.now();
    this.armIdle();
    this.up();
    this.deps.metrics.reconnect(this.peer.id);
    this.deps.log.debug('fast channel open', { peer: this.peer.id });
    this.flush();
    this.renewIfStale(); // rotated meanwhile
  }

  /** renewing -> open: the old socket sends its last batch and ends; frames go to the successor. */
  private takeOver(old: TLSSocket, socket: TLSSocket, sessionId: string, onChannelPort: boolean): void {
    const moved = this.ports.carrying(onChannelPort);
    this.armPortProbe();
    this.flush();
    // The old socket may still hold frames in the current and retired slabs, and the new
    // socket's writableLength says nothing of them: leave them to the GC, take a fresh one.
    this.slab.replace();
    this.state = { kind: 'open', socket, session: sessionId };
    old.end();
    this.up();
    if (moved) this.deps.log.info("fast channel moved to the peer's channel port", { peer: this.peer.id });
    else this.deps.log.info('fast channel renewed under a new session', { peer: this.peer.id, session: sessionId });
    this.renewIfStale();
  }

  /** A socket closed: the attempt failed, the channel broke, or a successor failed. */
  private closed(socket: TLSSocket, upgraded: boolean, target: ChannelTarget): void {
    if (!upgraded && this.ports.failed(target)) {
      this.deps.log.info("cannot open a fast channel on the peer's channel port; trying its API port", { peer: this.peer.id, port: target.port });
    }
    const s = this.state;
    if (s.kind === 'dialing' && s.socket === socket) this.dialFailed();
    else if ((s.kind === 'open' || s.kind === 'renewing') && s.socket === socket) this.broke(s);
    else if (s.kind === 'renewing' && s.successor === socket) this.renewalFailed(s);
  }

  /** dialing -> dialing on the API port (the channel port refused), else -> down with a backoff. */
  private dialFailed(): void {
    // The held frames were never written: on the API port they wait on for the same attempt.
    if (this.ports.fallbackNow) return void this.dial();
    this.down(true);
  }

  /** open -> down with a backoff; renewing -> dialing on the successor. */
  private broke(s: Extract<ChannelState, { kind: 'open' | 'renewing' }>): void {
    this.counters.channelUp.set(0);
    this.slab.discardPending(); // an unsent batch goes with the connection
    this.resetBatchCounts();
    if (s.kind === 'open') return this.down(true);
    // The successor is a dial under way: it is the next connection, and what waits in the slab
    // goes out on it with its 101.
    this.state = { kind: 'dialing', socket: s.successor };
  }

  /** renewing -> open: the open socket carries on; a renewal still due is tried again a little later. */
  private renewalFailed(s: Extract<ChannelState, { kind: 'renewing' }>): void {
    this.state = { kind: 'open', socket: s.socket, session: s.session };
    clearTimeout(this.renewTimer);
    this.renewTimer = setTimeout(() => this.renewIfStale(), RENEW_RETRY_MS);
    this.armPortProbe();
  }

  /** -> down; `backoff`: after a failure, the next packet may dial only after a growing, jittered wait. */
  private down(backoff: boolean): void {
    this.counters.channelUp.set(0);
    this.slab.discardPending();
    this.resetBatchCounts();
    if (!backoff) return void (this.state = DOWN);
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt++);
    this.state = { kind: 'down', retryAt: performance.now() + base / 2 + Math.random() * (base / 2) };
  }

  private up(): void {
    this.counters.channelUp.set(1);
    this.attempt = 0;
  }

  // ---- the timers -------------------------------------------------------------------------

  /**
   * Open on the peer's API port although it announced a channel port (a dial there failed): try
   * the channel port again in CHANNEL_PORT_RETRY_MS, as a renewal (port-policy.ts).
   */
  private armPortProbe(): void {
    clearTimeout(this.probeTimer);
    if (this.state.kind === 'closed' || !this.ports.wantsProbe(this.peer)) return;
    this.probeTimer = setTimeout(() => {
      if (this.state.kind !== 'open') return this.armPortProbe();
      this.ports.probe();
      this.renew();
    }, CHANNEL_PORT_RETRY_MS);
  }

  /** Checks every half idle time whether the channel carried anything; closes it if not. */
  private armIdle(): void {
    const idleMs = this.deps.settings.channelIdleMs;
    if (idleMs <= 0 || this.idleTimer !== undefined) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.state.kind !== 'open' && this.state.kind !== 'renewing') return;
      if (performance.now() - this.lastSend >= idleMs) this.closeIdle(this.state);
      else this.armIdle();
    }, idleMs / 2);
    this.idleTimer.unref();
  }

  /**
   * open/renewing -> down: nothing to send for channelIdleMs, so the channel ends gracefully (its
   * last batch was flushed) and gives back its slabs; the next packet dials again, at once.
   */
  private closeIdle(s: Extract<ChannelState, { kind: 'open' | 'renewing' }>): void {
    clearTimeout(this.probeTimer);
    if (s.kind === 'renewing') s.successor.destroy();
    this.down(false);
    s.socket.end();
    // The ended socket may still hold slab bytes only if the peer stopped reading; either way
    // the next channel starts on a fresh slab, allocated when it dials.
    this.slab.release();
    this.deps.log.debug('fast channel closed after idle', { peer: this.peer.id, idleMs: this.deps.settings.channelIdleMs });
  }
}
