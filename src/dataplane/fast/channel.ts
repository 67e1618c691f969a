// One persistent fast-path channel to one peer, from one worker: TLS, one authenticated HTTP/1.1
// Upgrade, then `[u16 length][packet]` frames (v1), or `[u32 length][virtio_net_hdr][packet]`
// frames (v2, both ends with TUN offloads: a GSO super-packet whole), until either side closes.
//
//   connect: tls.connect (our CA, TLS >= 1.2, ALPN http/1.1) -> GET /tunmesh/fastpath/v1/<self>
//            with `Upgrade: tunmesh-fastpath/1` (v2: `tunmesh-fastpath/2`) and a session token
//            over the empty body -> 101.
//   send:    append() copies each packet once, behind its length, into a slab; flush() hands the
//            batch to the socket in ONE write. A slab region is never rewritten while the socket
//            may still hold it: a full slab is retired and the oldest retired one the socket has
//            finished with is taken again, else a new one (under backpressure). Nothing is
//            allocated per packet, and at steady rates nothing at all: two slabs per channel,
//            and under sustained backpressure (a fast sender, 64 KB super-packets) up to
//            MAX_RETIRED more, dropped again once the socket drains, instead of a new one per
//            SLAB_BYTES of traffic left for the GC (page faults on fresh memory, and freed memory
//            the allocator kept: a worker stayed 10-25 MB larger after traffic).
//   bounded: while the socket holds more than queueLimit * MTU unsent bytes, packets are dropped
//            `queue_full`; the kernel's TCP buffers are the only queue.
//   demand:  nothing is dialled until the first packet toward the peer: that packet opens the
//            channel, and it and those after it wait in the slab (see opening). A channel that
//            carried nothing for channelIdleMs is ended gracefully and gives its slabs back;
//            the next packet opens it again. So a worker holds sockets and slabs for the peers
//            it talks to, not for the whole mesh (nebula opens tunnels the same way).
//   opening: while a connection attempt is under way, up to CONNECTING_LIMIT_BYTES of frames wait
//            in the slab and go out with the 101 (so the first packets to a new peer, a TCP SYN
//            say, are not lost); an attempt is bounded by the upgrade timeout, after which
//            they are discarded with the connection. A dial to the channel port that fails
//            goes straight on to the API port with the held frames (port, below).
//   down:    after a failed attempt, packets are dropped `node_close` for a backoff with jitter,
//            BACKOFF_MIN_MS .. BACKOFF_MAX_MS, growing with each failure (not queued: TCP inside
//            the tunnel retransmits, and queued packets would arrive stale); the first packet
//            after it dials again.
//   auth:    checked once, at the upgrade. A 401/403 at open tells main the session was refused.
//   port:    to the peer's channel port when it announced one (its workers receive), else to its
//            API port; a channel that had to fall back to the API port tries the channel port
//            again every CHANNEL_PORT_RETRY_MS, as a renewal (make before break).
//   renew:   a channel lives no longer than the session it was opened with (the receiver closes
//            it once that key stops verifying). When main hands us a new session, a second
//            channel opens under it beside the first (make before break); once it has its 101,
//            the pending batch goes out on the old one, which is ended gracefully, and frames go
//            to the new one in a fresh slab (the old socket may still hold the old slabs).
import { connect, type TLSSocket } from 'node:tls';
import type { PeerCounters } from '../metrics.js';
import { FAST_PATH_ROUTE, FAST_PATH_UPGRADE, FAST_PATH_UPGRADE_V2, type PeerRoute } from '../contract.js';
import type { DropReason } from '../drop-reasons.js';
import { ChannelError } from '../errors.js';
import { FRAME_HEADER_V2, frameHeaderBytes, writeFrame, writeFrameV2 } from './frames.js';
import { peerTlsOptions } from '../tls-options.js';
import { VNET_GSO_NONE, VNET_HDR_LEN, vnetGsoType } from '../../tun/vnet.js';
import { peerEndpoint, type PeerTransport, type TransportDeps } from '../transport.js';

const SLAB_BYTES = 256 * 1024;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;
/** Retired slabs kept for reuse under backpressure (bounded memory: queueLimit * MTU is ~6 slabs). */
const MAX_RETIRED = 6;
/** Retired slabs kept once the socket has drained: the steady state needs one besides the current. */
const RETIRED_IDLE = 1;
/** Frames held while the channel opens: a few dozen packets, a small fraction of a slab. */
const CONNECTING_LIMIT_BYTES = 64 * 1024;
/** A renewal that failed (the old channel still works) is tried again after this. */
const RENEW_RETRY_MS = 500;
/** A channel that fell back to the API port tries the peer's channel port again this often (make before break). */
export const CHANNEL_PORT_RETRY_MS = 15_000;
/** The least a v2 channel may hold unsent: four 64 KB super-packets. */
const MIN_LIMIT_V2 = 4 * 65536;
/** An upgrade answer longer than this is not ours. */
const MAX_RESPONSE_HEAD = 8192;
/**
 * The least time a dial gets for TLS and the 101: a starved peer answers slowly, and a dial
 * cut short is a handshake wasted and the held packets lost with it.
 */
const MIN_UPGRADE_TIMEOUT_MS = 5000;
/** The slab of a channel that has none (never opened, or closed idle). */
const NO_SLAB = Buffer.alloc(0);

export class FastChannel implements PeerTransport {
  readonly path = 'fast' as const;
  /** Fixed for the channel's life: a peer announcing other framing gets a new channel (send.ts). */
  readonly frames: 1 | 2;
  epoch = -1;
  private socket: TLSSocket | null = null;
  /** A channel opening under a newer session, to take over from `socket` (renew). */
  private successor: TLSSocket | null = null;
  /** The session the open channel was opened with. */
  private openedWith = '';
  private open = false;
  private closed = false;
  private attempt = 0;
  /** The last dial went to the channel port and failed before its 101: the next goes to the API port. */
  private channelPortFailed = false;
  /** The open socket was dialled to the peer's channel port (or the peer announced none). */
  private onChannelPort = true;
  private probeTimer: NodeJS.Timeout | undefined;
  private timer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private slab: Buffer = NO_SLAB;
  /** When flush() last handed the socket bytes (performance.now() ms): the idle check reads it. */
  private lastSend = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  /** A TLS session of this peer's, for resuming the next dial instead of a full handshake. */
  private tlsSession: Buffer | undefined;
  /**
   * Full slabs, oldest first, each with `written` as it was when the slab was retired: the socket
   * has finished with a slab once it has finished that many bytes (nextSlab()).
   */
  private readonly retired: Array<{ buf: Buffer; mark: number }> = [];
  /** Bytes handed to socket.write() by flush(), over the channel's life (all its sockets). */
  private written = 0;
  private used = 0;
  private batchStart = 0;
  private batchPackets = 0;
  private batchBytes = 0;
  private batchSuper = 0;
  private readonly limitBytes: number;
  private readonly counters: PeerCounters;
  private readonly header: number;

  constructor(
    private peer: PeerRoute,
    private readonly deps: TransportDeps,
  ) {
    this.frames = peer.frames ?? 1;
    this.header = frameHeaderBytes(this.frames);
    // A few super-packets at least, whatever the MTU.
    this.limitBytes = Math.max(deps.settings.queueLimit * deps.mtu, this.frames === 2 ? MIN_LIMIT_V2 : 0);
    this.counters = deps.metrics.forPeer(peer.id);
  }

  append(buf: Buffer, off: number, len: number): DropReason | null {
    if (this.peer.session === null) return 'no_session';
    // On demand: the first packet dials (unless a failed dial is backing off) and waits in the slab.
    if (this.socket === null && this.timer === undefined && !this.closed) this.connect();
    const socket = this.socket;
    if (socket === null) return 'node_close';
    if (!this.open) return this.holdWhileOpening(buf, off, len);
    if (socket.writableLength + (this.used - this.batchStart) > this.limitBytes) return 'queue_full';
    if (this.used + this.header + len > this.slab.length) {
      this.flush();
      this.nextSlab(socket);
    }
    this.frame(buf, off, len);
    return null;
  }

  /**
   * A fresh region for frames. The socket finishes writes in order and `writableLength` counts
   * the bytes it has not finished, so it has finished `written - writableLength` of ours (fewer
   * while the upgrade request is pending: on the safe side). The oldest retired slab whose
   * bytes all lie below that is overwritten instead of allocating. A new socket (reconnect)
   * never holds an older socket's bytes: its writableLength counts only its own.
   */
  private nextSlab(socket: TLSSocket): void {
    const finished = this.written - socket.writableLength;
    this.retired.push({ buf: this.slab, mark: this.written });
    const oldest = this.retired[0]!;
    const reuse = oldest.mark <= finished; // may be the slab just retired, when the socket drained
    if (reuse) this.retired.shift();
    else if (this.retired.length > MAX_RETIRED) this.retired.shift(); // left to the GC
    this.slab = reuse ? oldest.buf : Buffer.allocUnsafeSlow(SLAB_BYTES);
    this.used = this.batchStart = 0;
  }

  /** Before the 101: frame into the slab, unsent, within CONNECTING_LIMIT_BYTES. */
  private holdWhileOpening(buf: Buffer, off: number, len: number): DropReason | null {
    const end = this.used + this.header + len;
    if (end - this.batchStart > CONNECTING_LIMIT_BYTES || end > this.slab.length) return 'queue_full';
    this.frame(buf, off, len);
    return null;
  }

  /** One packet into the pending batch (the caller checked room). */
  private frame(buf: Buffer, off: number, len: number): void {
    if (this.header === FRAME_HEADER_V2) {
      this.used = writeFrameV2(this.slab, this.used, buf, off, len);
      this.batchBytes += len - VNET_HDR_LEN;
      if (vnetGsoType(buf, off) !== VNET_GSO_NONE) this.batchSuper++;
    } else {
      this.used = writeFrame(this.slab, this.used, buf, off, len);
      this.batchBytes += len;
    }
    this.batchPackets++;
  }

  flush(): void {
    const socket = this.socket;
    if (!this.open || socket === null || this.used === this.batchStart) return;
    socket.write(this.slab.subarray(this.batchStart, this.used));
    this.lastSend = performance.now();
    this.written += this.used - this.batchStart;
    this.batchStart = this.used;
    // Drained: what backpressure made us keep goes back to the GC.
    if (socket.writableLength === 0 && this.retired.length > RETIRED_IDLE) this.retired.splice(0, this.retired.length - RETIRED_IDLE);
    this.counters.txPackets.inc(this.batchPackets);
    this.counters.txBytes.inc(this.batchBytes);
    this.deps.metrics.superPackets('tx', this.batchSuper);
    this.batchPackets = this.batchBytes = this.batchSuper = 0;
  }

  update(peer: PeerRoute): void {
    const moved = peer.url !== this.peer.url || peer.channelPort !== this.peer.channelPort;
    this.peer = peer;
    if (moved) {
      this.successor?.destroy();
      this.socket?.destroy();
    } else if (this.open && peer.session !== null && peer.session.id !== this.openedWith) this.renew();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.idleTimer);
    clearTimeout(this.timer);
    clearTimeout(this.renewTimer);
    clearTimeout(this.probeTimer);
    this.successor?.destroy();
    this.successor = null;
    this.socket?.destroy();
    this.socket = null;
    this.open = false;
  }

  /**
   * A TLS connection to the peer, upgraded under the current session: `upgraded` runs on the 101.
   * Bounded by the request timeout until the upgrade is answered; any failure destroys it.
   */
  private dial(upgraded: (socket: TLSSocket, sessionId: string, viaChannelPort: boolean) => void): TLSSocket {
    const { host, port, viaChannelPort } = this.endpoint();
    const resume = this.tlsSession === undefined ? {} : { session: this.tlsSession };
    const socket = connect({ host, port, ALPNProtocols: ['http/1.1'], ...peerTlsOptions(this.deps.settings, host), ...resume });
    let done = false;
    socket.setNoDelay(true);
    socket.on('session', (session: Buffer) => (this.tlsSession = session));
    socket.setTimeout(Math.max(this.deps.settings.requestTimeoutMs, MIN_UPGRADE_TIMEOUT_MS), () => socket.destroy(new ChannelError('upgrade timed out')));
    socket.on('error', (err) => this.deps.log.debug('fast channel error', { peer: this.peer.id, port, error: err.message }));
    socket.once('close', () => {
      if (done) return;
      if (viaChannelPort && !this.channelPortFailed) {
        this.deps.log.info("cannot open a fast channel on the peer's channel port; trying its API port", { peer: this.peer.id, port });
      }
      this.channelPortFailed = viaChannelPort;
    });
    socket.once('secureConnect', () => {
      this.upgrade(socket, port).then(
        (sessionId) => {
          done = true;
          this.channelPortFailed = false;
          upgraded(socket, sessionId, viaChannelPort || this.peer.channelPort === undefined);
        },
        (err: unknown) => socket.destroy(err instanceof Error ? err : new Error(String(err))),
      );
    });
    return socket;
  }

  /**
   * Where to open a channel: the peer's channel port when it announced one (received by its
   * workers), else its API port. A dial to the channel port that fails before its 101 sends the
   * next one to the API port, and the one after back to the channel port: a channel port a
   * firewall blocks costs one attempt per reconnect, not the channel.
   */
  private endpoint(): { host: string; port: number; viaChannelPort: boolean } {
    const viaChannelPort = this.peer.channelPort !== undefined && !this.channelPortFailed;
    const { host, port } = peerEndpoint(this.peer.url, viaChannelPort ? this.peer.channelPort : undefined);
    return { host, port, viaChannelPort };
  }

  private connect(): void {
    this.timer = undefined;
    if (this.closed || this.peer.session === null) return;
    if (this.slab === NO_SLAB) this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    const socket = this.dial((s, sessionId, onChannelPort) => this.opened(s, sessionId, onChannelPort));
    this.socket = socket;
    socket.once('close', () => this.onClose(socket));
  }

  /** Make before break: a channel under the current session, to replace the open one. */
  private renew(): void {
    if (this.successor !== null || this.closed) return;
    const socket = this.dial((s, sessionId, onChannelPort) => this.takeOver(s, sessionId, onChannelPort));
    this.successor = socket;
    socket.once('close', () => {
      if (this.successor !== socket) return;
      // It failed before taking over: the open channel carries on; try again a little later.
      this.successor = null;
      clearTimeout(this.renewTimer);
      this.renewTimer = setTimeout(() => this.renewIfStale(), RENEW_RETRY_MS);
      this.armPortProbe();
    });
  }

  /**
   * Open on the peer's API port although it announced a channel port (a dial there failed): try
   * the channel port again in CHANNEL_PORT_RETRY_MS, as a renewal (make before break), so a
   * firewall opened later brings the channel back to the peer's workers without a loss.
   */
  private armPortProbe(): void {
    clearTimeout(this.probeTimer);
    if (this.closed || this.onChannelPort || this.peer.channelPort === undefined) return;
    this.probeTimer = setTimeout(() => {
      if (!this.open || this.successor !== null) return this.armPortProbe();
      this.channelPortFailed = false;
      this.renew();
    }, CHANNEL_PORT_RETRY_MS);
  }

  private renewIfStale(): void {
    if (this.open && this.peer.session !== null && this.peer.session.id !== this.openedWith) this.renew();
  }

  /** Sends the upgrade request under the current session; resolves with that session's id on 101. */
  private async upgrade(socket: TLSSocket, port: number): Promise<string> {
    const sessionId = this.peer.session?.id ?? '';
    const auth = await this.deps.signer.header(this.peer, '');
    if (auth === null) throw new ChannelError('no session');
    // The Host header brackets an IPv6 literal (`[2001:2::1]:4567`).
    const { authority } = peerEndpoint(this.peer.url, port);
    socket.write(
      `GET ${FAST_PATH_ROUTE}${this.deps.selfId} HTTP/1.1\r\nHost: ${authority}\r\n` +
        `Connection: Upgrade\r\nUpgrade: ${this.frames === 2 ? FAST_PATH_UPGRADE_V2 : FAST_PATH_UPGRADE}\r\nAuthorization: ${auth}\r\n\r\n`,
    );
    const status = await readStatus(socket);
    if (status !== 101) {
      if (status === 401 || status === 403) this.deps.onRejected(this.peer.id, sessionId);
      throw new ChannelError(`upgrade refused with HTTP ${status}`, status);
    }
    socket.setTimeout(0);
    socket.on('data', () => undefined); // the peer sends nothing on this channel; keep it flowing
    return sessionId;
  }

  private opened(socket: TLSSocket, sessionId: string, onChannelPort: boolean): void {
    if (this.socket !== socket) return void socket.destroy();
    this.open = true;
    this.openedWith = sessionId;
    this.onChannelPort = onChannelPort;
    this.armPortProbe();
    this.lastSend = performance.now();
    this.armIdle();
    this.counters.channelUp.set(1);
    this.attempt = 0;
    this.deps.metrics.reconnect(this.peer.id);
    this.deps.log.debug('fast channel open', { peer: this.peer.id });
    this.flush(); // what waited while the channel opened
    if (this.peer.session !== null && this.peer.session.id !== sessionId) this.renew(); // rotated meanwhile
  }

  /** The renewed channel is up: the old one sends its last batch and ends; frames go to the new one. */
  private takeOver(socket: TLSSocket, sessionId: string, onChannelPort: boolean): void {
    if (this.successor !== socket || this.closed) return void socket.destroy();
    this.successor = null;
    const moved = onChannelPort && !this.onChannelPort;
    this.onChannelPort = onChannelPort;
    this.armPortProbe();
    const old = this.socket;
    if (!this.open || old === null) {
      // The old channel died (or is reconnecting) meanwhile: this one is simply the next
      // connection, and what waited in the slab (never written) goes out on it below.
      clearTimeout(this.timer);
      this.timer = undefined;
    } else {
      this.flush();
      // The old socket may still hold frames in the current and retired slabs, and the new
      // socket's writableLength says nothing of them: leave them to the GC, take a fresh one.
      this.slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
      this.retired.length = 0;
      this.used = this.batchStart = 0;
    }
    this.socket = socket;
    socket.once('close', () => this.onClose(socket));
    old?.end();
    this.open = true;
    this.openedWith = sessionId;
    this.counters.channelUp.set(1);
    this.attempt = 0;
    this.flush();
    if (moved) this.deps.log.info("fast channel moved to the peer's channel port", { peer: this.peer.id });
    else this.deps.log.info('fast channel renewed under a new session', { peer: this.peer.id, session: sessionId });
    this.renewIfStale();
  }

  /** Checks every half idle time whether the channel carried anything; closes it if not. */
  private armIdle(): void {
    const idleMs = this.deps.settings.channelIdleMs;
    if (idleMs <= 0 || this.idleTimer !== undefined) return;
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (!this.open || this.closed) return;
      if (performance.now() - this.lastSend >= idleMs) this.closeIdle();
      else this.armIdle();
    }, idleMs / 2);
    this.idleTimer.unref();
  }

  /**
   * Nothing to send for channelIdleMs: end the channel gracefully (its last batch was flushed)
   * and give back the slabs; the next packet dials again (on demand).
   */
  private closeIdle(): void {
    const socket = this.socket;
    clearTimeout(this.probeTimer);
    this.successor?.destroy();
    this.successor = null;
    this.socket = null;
    this.open = false;
    this.counters.channelUp.set(0);
    socket?.end();
    // The ended socket may still hold slab bytes only if the peer stopped reading; either way
    // the next channel starts on a fresh slab, allocated when it dials.
    this.slab = NO_SLAB;
    this.retired.length = 0;
    this.used = this.batchStart = 0;
    this.batchPackets = this.batchBytes = this.batchSuper = 0;
    this.deps.log.debug('fast channel closed after idle', { peer: this.peer.id, idleMs: this.deps.settings.channelIdleMs });
  }

  private onClose(socket: TLSSocket): void {
    if (this.socket !== socket) return;
    const wasOpen = this.open;
    this.socket = null;
    this.open = false;
    this.counters.channelUp.set(0);
    if (!wasOpen && !this.closed && this.channelPortFailed) {
      // The channel port refused before its 101: the API port is the next step of the same
      // attempt, not a new one. The held frames were never written: they wait on for it.
      this.connect();
      return;
    }
    this.used = this.batchStart; // an unsent batch goes with the connection
    this.batchPackets = this.batchBytes = this.batchSuper = 0;
    if (this.closed) return;
    // Back off before the next packet may dial again (on demand: nothing dials by itself).
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt++);
    this.timer = setTimeout(() => (this.timer = undefined), base / 2 + Math.random() * (base / 2));
  }
}

/** Reads the HTTP response head of the upgrade and returns its status code. */
function readStatus(socket: TLSSocket): Promise<number> {
  return new Promise((resolve, reject) => {
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0 && head.length < MAX_RESPONSE_HEAD) return;
      cleanup();
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
      if (m === null) reject(new ChannelError('not an HTTP response to the upgrade'));
      else resolve(Number(m[1]));
    };
    const onClose = (): void => {
      cleanup();
      reject(new ChannelError('closed during the upgrade'));
    };
    const cleanup = (): void => {
      socket.off('data', onData);
      socket.off('close', onClose);
    };
    socket.on('data', onData);
    socket.once('close', onClose);
  });
}
