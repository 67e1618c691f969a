// The receive path: packets from peers, into our TUN device. The main process runs one for the
// JSON path and for channels upgraded on the API port; each worker runs one for the channels
// its channel server takes (workers/channel-server.ts), writing through the worker's own TUN
// queue so the reply is read by the process that wrote the request (the kernel returns a flow
// on the queue that last wrote it): one process wake-up per hop instead of two.
//
//   1. upgrade      a peer's worker opens `GET /tunmesh/fastpath/v1/<its id>` with
//                   `Upgrade: tunmesh-fastpath/1`; handleUpgrade() checks the path and header,
//                   authenticates the session token (over the empty body, iss = the path's id;
//                   with mutual TLS also the client certificate and the deny list) and answers
//                   101 (or 400/401/403 and closes). One check per channel, not per packet.
//                   A channel lives as long as the session key it was opened with: once that
//                   key no longer verifies (rotated past its overlap, or its peer forgotten or
//                   denied) the channel is closed (SESSION_CHECK_MS); the sender has already
//                   moved to a channel under its new session (fast-channel.ts, renew).
//   2. frames       each chunk read from the TLS socket is split into `[u16 length][packet]`
//                   frames in place (FrameReader: zero-copy offsets into the chunk; only a frame
//                   cut between two chunks is reassembled, in one preallocated buffer). A frame of
//                   length 0 is `malformed`: the channel is closed, the node carries on.
//   3. checks       per packet: longer than our MTU is `oversized` (dropped, channel kept: a
//                   peer may have a larger MTU); then the original's rules (checks.ts), for IPv4
//                   and IPv6 alike: the source must be a known node's address
//                   (`no_return_route`), that node must be the sender (`route_conflict`), the
//                   destination us or an allowed IPv4 broadcast (`misrouted`).
//   4. TUN write    the accepted packets of a chunk go to the kernel in ONE writeBatch on the
//                   process's TUN queue (two when a reassembled frame starts the chunk); packets
//                   the kernel refuses or has no room for are `tun_issue`. On a TUN with offloads,
//                   plain packets (v1 channels, the JSON path) are merged first where they are
//                   consecutive TCP segments of one flow (software GRO, offload/coalesce.ts),
//                   and written once per event-loop turn rather than per chunk (chunkDone).
//   5. legacy       receiveLegacy(): the original's JSON packets (routes in src/api) are decoded
//                   (legacy-packet.ts; `malformed`, `expired`), then take steps 3 and 4.
//   6. state        setState() rebuilds the address table and closes the channels of peers that
//                   left the mesh.
// Offloads: a node whose TUN has a virtio_net_hdr (vnetHeader) also accepts `tunmesh-fastpath/2`
// channels, whose v2 frames carry that header and possibly a GSO super-packet (frames.ts). The
// header goes to the TUN with the packet (the kernel segments or delivers it whole; checksums
// stay the kernel's business, NEEDS_CSUM passes through); the checks of step 3 read the packet's
// IP header, and the MTU limit applies to plain packets only. Packets of v1 channels and of the
// JSON path get an empty header in front on such a TUN (one writev, no copy).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { LevelLogger } from '../log/logger.js';
import type { DataPlaneMetrics, PeerCounters } from './metrics.js';
import type { TunQueue } from '../tun/queue.js';
import { checkInbound } from './checks.js';
import { FAST_PATH_ROUTE, FAST_PATH_UPGRADE, FAST_PATH_UPGRADE_V2, type DataPlaneState, type PeerRoute } from './contract.js';
import type { DropReason } from './drop-reasons.js';
import { DataPlaneError } from './errors.js';
import { FrameReader, MAX_FRAME, MAX_FRAME_V2, type FrameSink, type FrameVersion } from './fast/frames.js';
import { VNET_HDR_LEN, vnetGsoType, VNET_GSO_NONE } from '../tun/vnet.js';
import { decodeLegacyPacket, stampSeconds } from './legacy/packet.js';
import { RouteTable } from './route-table.js';
import { errorMessage } from '../log/error-message.js';
import { refusalOf } from '../security/refusal.js';
import { Coalescer } from '../offload/coalesce.js';

/** Frames handed to one writeBatch at most (a 64 KiB chunk of minimal packets is ~1600). */
const MAX_WRITE_BATCH = 2048;
/**
 * Receive-side age limit on top of the packet expiration: the stamp is the sender's clock, and
 * two nodes' clocks differ by more than the original's 0.1 s expiration. Only very stale packets
 * (a stuck queue, a replay) are refused.
 */
const RECEIVE_CLOCK_TOLERANCE_S = 5;
/** Largest packet we accept before the first state says the MTU. */
const DEFAULT_MTU = 1500;
/** How often open channels are checked against the session keys they were opened with. */
export const SESSION_CHECK_MS = 500;

export interface ReceiveAuth {
  peerId: string;
  /** The session key the channel was opened with (checked while the channel lives). */
  keyId?: string;
}

export interface ReceivePathOptions {
  /** The TUN queue this process writes received packets to (main: the detached one; a worker: its own). Not closed by us. */
  tun: TunQueue;
  metrics: DataPlaneMetrics;
  /** Verifies a session token for `body` from `expectedPeer` (and the connection's client certificate); throws when it does not hold. */
  authenticate(header: string | undefined, body: Buffer, mode: 'session', expectedPeer: string, socket: Duplex): Promise<ReceiveAuth>;
  /** Whether an inbound session key still verifies; channels opened with a dead one are closed. */
  keyLive?(keyId: string): boolean;
  /** A refused upgrade, by reason (the auth-failure counter). */
  onRefused?(reason: string): void;
  log: LevelLogger;
  /** The packet expiration of the legacy path (seconds), before RECEIVE_CLOCK_TOLERANCE_S. */
  packetExpiration?: number;
  /** Age of an accepted JSON-path packet (its stamp to now), per sender. */
  observeLatency?(peerId: string, seconds: number): void;
  /** The TUN has offloads (IFF_VNET_HDR): writes carry a header, v2 channels are accepted. */
  vnetHeader?: boolean;
  /** The kind of process this path runs in (the receiver label of tunmesh_inbound_channels). */
  receiver: 'main' | 'worker';
}

export interface ReceivePath {
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  receiveLegacy(senderId: string, packets: unknown[]): void;
  setState(state: DataPlaneState): void;
  /** Closes the channels opened with a session key `live` says no longer verifies. */
  endSessions(live: (keyId: string) => boolean): void;
  /** Open inbound fast channels per peer id. */
  channels(): Map<string, number>;
  close(): void;
}

export function createReceivePath(opts: ReceivePathOptions): ReceivePath {
  return new Receiver(opts);
}

/** Accepted packets waiting for the TUN write; also the FrameSink of the channels. */
class TunBatch {
  private readonly offsets = new Uint32Array(MAX_WRITE_BATCH);
  private readonly lengths = new Uint32Array(MAX_WRITE_BATCH);
  private buf: Buffer | undefined;
  private count = 0;
  private bytes = 0;
  private ipv6 = 0;
  /** The ranges start with a virtio_net_hdr (v2 frames); else the TUN queue adds an empty one if it needs it. */
  private withHeader = false;

  constructor(
    private readonly tun: TunQueue,
    private readonly metrics: DataPlaneMetrics,
  ) {}

  /** buf[off, off+len): a packet, or (withHeader) a virtio_net_hdr and its packet. */
  add(buf: Buffer, off: number, len: number, withHeader = false): void {
    if (this.count === MAX_WRITE_BATCH || ((this.buf !== buf || this.withHeader !== withHeader) && this.count > 0)) this.write();
    this.buf = buf;
    this.withHeader = withHeader;
    this.offsets[this.count] = off;
    this.lengths[this.count++] = len;
    this.bytes += withHeader ? len - VNET_HDR_LEN : len;
    if (buf[withHeader ? off + VNET_HDR_LEN : off]! >>> 4 === 6) this.ipv6++;
  }

  write(): number {
    const n = this.count;
    if (n === 0 || this.buf === undefined) return 0;
    const r = this.tun.writeBatch(this.buf, this.offsets, this.lengths, n, this.withHeader);
    // A partial write (kernel queue full, a refused packet) is rare: its bytes are estimated.
    const bytes = r.written === n ? this.bytes : Math.round((this.bytes * r.written) / n);
    const ipv6 = r.written === n ? this.ipv6 : Math.round((this.ipv6 * r.written) / n);
    this.metrics.wroteToTun(r.written, bytes, ipv6);
    this.metrics.drop('tun_issue', n - r.written);
    this.count = this.bytes = this.ipv6 = 0;
    this.buf = undefined;
    return r.written;
  }
}

/** One inbound fast channel: its peer, its frame reader and its per-packet checks. */
class Channel implements FrameSink {
  readonly reader: FrameReader;
  private packets = 0;
  private bytes = 0;
  private superPackets = 0;

  constructor(
    readonly peerId: string,
    readonly keyId: string | undefined,
    readonly socket: Duplex,
    private readonly rx: Receiver,
    private readonly counters: PeerCounters,
    private readonly version: FrameVersion,
  ) {
    this.reader = new FrameReader(version === 2 ? MAX_FRAME_V2 : MAX_FRAME, version);
  }

  frame(buf: Buffer, off: number, len: number): void {
    this.packets++;
    if (this.version === 2) {
      this.bytes += len - VNET_HDR_LEN;
      if (vnetGsoType(buf, off) !== VNET_GSO_NONE) this.superPackets++;
      this.rx.acceptWithHeader(this.peerId, buf, off, len);
      return;
    }
    this.bytes += len;
    this.rx.accept(this.peerId, buf, off, len);
  }

  flush(): void {
    this.rx.chunkDone(this.version);
    this.rx.countDrops();
    this.counters.rxPackets.inc(this.packets);
    this.counters.rxBytes.inc(this.bytes);
    this.rx.opts.metrics.superPackets('rx', this.superPackets);
    this.packets = this.bytes = this.superPackets = 0;
  }
}

class Receiver implements ReceivePath {
  readonly batch: TunBatch;
  /** Software GRO of plain packets, on a TUN with offloads (offload/coalesce.ts). */
  private readonly coalescer: Coalescer | null;
  private table: RouteTable<PeerRoute> | null = null;
  private mtu = DEFAULT_MTU;
  private closed = false;
  private readonly open = new Map<string, Set<Channel>>();
  private readonly drops = new Map<DropReason, number>();
  private readonly sessionCheck: NodeJS.Timeout | undefined;

  constructor(readonly opts: ReceivePathOptions) {
    this.batch = new TunBatch(opts.tun, opts.metrics);
    this.coalescer = opts.vnetHeader === true ? new Coalescer(this.batch) : null;
    const live = opts.keyLive;
    if (live) this.sessionCheck = setInterval(() => this.endSessions(live), SESSION_CHECK_MS).unref();
  }

  /** Channels whose session key no longer verifies end: a revoked or expired key keeps nothing open. */
  endSessions(live: (keyId: string) => boolean): void {
    for (const set of this.open.values()) {
      for (const ch of set) {
        if (ch.keyId === undefined || live(ch.keyId)) continue;
        this.opts.log.info('fast channel closed: its session key expired', { component: 'dataplane', peer: ch.peerId, session: ch.keyId });
        ch.socket.destroy();
      }
    }
  }

  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = req.url ?? '';
    const peerId = url.startsWith(FAST_PATH_ROUTE) ? url.slice(FAST_PATH_ROUTE.length) : '';
    const version = this.framingOf(req.headers.upgrade);
    if (peerId === '' || peerId.includes('/') || version === 0) {
      refuse(socket, 400, 'Bad Request');
      return;
    }
    socket.on('error', (err) => this.opts.log.debug('fast channel error', { peer: peerId, error: err.message }));
    this.opts
      .authenticate(req.headers.authorization, Buffer.alloc(0), 'session', peerId, socket)
      .then((auth) => this.accepted(auth.peerId, auth.keyId, socket, head, version))
      .catch((err: unknown) => {
        const refusal = refusalOf(err) ?? { status: 401, reason: 'malformed_token' };
        this.opts.onRefused?.(refusal.reason);
        this.opts.log.info('fast channel refused', { peer: peerId, reason: refusal.reason, error: errorMessage(err) });
        refuse(socket, refusal.status, refusal.status === 403 ? 'Forbidden' : 'Unauthorized', refusal.reason);
      });
  }

  /** The framing an Upgrade token asks for; 0 when we do not speak it (v2 needs our TUN's offloads). */
  private framingOf(upgrade: string | undefined): FrameVersion | 0 {
    const token = upgrade?.toLowerCase();
    if (token === FAST_PATH_UPGRADE) return 1;
    if (token === FAST_PATH_UPGRADE_V2 && this.opts.vnetHeader === true) return 2;
    return 0;
  }

  receiveLegacy(senderId: string, packets: unknown[]): void {
    if (this.closed) return this.opts.metrics.drop('node_close', packets.length);
    const counters = this.opts.metrics.forPeer(senderId);
    const maxAge = (this.opts.packetExpiration ?? 0.1) + RECEIVE_CLOCK_TOLERANCE_S;
    const now = Date.now() / 1000;
    let bytes = 0;
    for (const payload of packets) {
      try {
        const p = decodeLegacyPacket(payload);
        bytes += p.data.length;
        const age = now - stampSeconds(p.internalStamp);
        if (age > maxAge) this.dropOne('expired');
        else {
          this.opts.observeLatency?.(senderId, Math.max(0, age));
          this.accept(senderId, p.data, 0, p.data.length);
        }
        if (this.coalescer === null) this.batch.write(); // each decoded packet is its own buffer (the coalescer copies)
      } catch (err) {
        if (!(err instanceof DataPlaneError)) throw err;
        this.dropOne(err.reason);
      }
    }
    this.writeOut();
    counters.rxPackets.inc(packets.length);
    counters.rxBytes.inc(bytes);
    this.countDrops();
  }

  /**
   * Step 4 at the end of a channel's chunk. Plain packets that go through the coalescer wait for
   * the end of this event-loop turn: the other TLS records of the same read (16 KB each) are
   * processed in the same turn and can join the same super-packet. The coalescer has copied
   * them; packets that point into a chunk (v2 frames, or any frame without a coalescer, some in
   * the frame reader's reused reassembly buffer) are written now.
   */
  chunkDone(version: FrameVersion): void {
    if (this.coalescer === null || version === 2) return void this.batch.write();
    if (this.writeQueued) return;
    this.writeQueued = true;
    setImmediate(this.queuedWrite);
  }

  private writeQueued = false;
  private readonly queuedWrite = (): void => {
    this.writeQueued = false;
    if (!this.closed) this.writeOut();
  };

  /** Step 4: what the checks accepted, to the TUN (merged first where the TUN has offloads). */
  writeOut(): void {
    const c = this.coalescer;
    if (c === null) return void this.batch.write();
    c.flush();
    this.opts.metrics.coalesced(c.merged, c.superPackets);
    c.merged = c.superPackets = 0;
  }

  setState(state: DataPlaneState): void {
    this.table = new RouteTable(state, (peer) => peer);
    this.mtu = state.mtu;
    const ids = new Set(state.peers.map((p) => p.id));
    for (const [peerId, set] of this.open) {
      if (ids.has(peerId)) continue;
      for (const ch of set) ch.socket.destroy();
      this.open.delete(peerId);
      this.opts.metrics.forgetPeer(peerId);
    }
  }

  channels(): Map<string, number> {
    return new Map([...this.open].map(([id, set]) => [id, set.size]));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sessionCheck);
    for (const set of this.open.values()) for (const ch of set) ch.socket.destroy();
    this.open.clear();
  }

  /** Step 3: the original's checks, then into the TUN batch. */
  accept(peerId: string, buf: Buffer, off: number, len: number): void {
    // Above our MTU (a peer configured with a larger one): this packet goes, the channel stays.
    if (len > this.mtu) return this.dropOne('oversized');
    const reason = this.table === null ? 'no_return_route' : checkInbound(this.table, peerId, buf, off, len);
    if (reason !== null) this.dropOne(reason);
    else if (this.coalescer !== null) this.coalescer.add(buf, off, len);
    else this.batch.add(buf, off, len);
  }

  /** Step 3 for a v2 frame: buf[off, off+len) is a virtio_net_hdr and its packet, maybe a super-packet. */
  acceptWithHeader(peerId: string, buf: Buffer, off: number, len: number): void {
    const ip = off + VNET_HDR_LEN;
    const ipLen = len - VNET_HDR_LEN;
    // A super-packet is bounded by the frame size; the kernel checks its header and segments it.
    if (ipLen > this.mtu && vnetGsoType(buf, off) === VNET_GSO_NONE) return this.dropOne('oversized');
    const reason = this.table === null ? 'no_return_route' : checkInbound(this.table, peerId, buf, ip, ipLen);
    if (reason === null) this.batch.add(buf, off, len, true);
    else this.dropOne(reason);
  }

  countDrops(): void {
    for (const [reason, n] of this.drops) {
      if (n > 0) this.opts.metrics.drop(reason, n);
      this.drops.set(reason, 0);
    }
  }

  private dropOne(reason: DropReason): void {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
  }

  private accepted(peerId: string, keyId: string | undefined, socket: Duplex, head: Buffer, version: FrameVersion): void {
    // The token check is async: the node may have stopped meanwhile.
    if (this.closed) return void socket.destroy();
    if (socket.destroyed) return;
    const upgrade = version === 2 ? FAST_PATH_UPGRADE_V2 : FAST_PATH_UPGRADE;
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${upgrade}\r\n\r\n`);
    const noDelay = (socket as Duplex & { setNoDelay?: (on: boolean) => void }).setNoDelay;
    noDelay?.call(socket, true);
    const ch = new Channel(peerId, keyId, socket, this, this.opts.metrics.forPeer(peerId), version);
    let set = this.open.get(peerId);
    if (set === undefined) this.open.set(peerId, (set = new Set()));
    set.add(ch);
    this.opts.metrics.inboundChannel(this.opts.receiver, 1);
    socket.once('close', () => {
      this.opts.metrics.inboundChannel(this.opts.receiver, -1);
      set.delete(ch);
      if (set.size === 0 && this.open.get(peerId) === set) this.open.delete(peerId);
    });
    const onChunk = (chunk: Buffer): void => {
      if (ch.reader.push(chunk, ch)) return;
      ch.flush();
      this.opts.metrics.drop('malformed', 1);
      this.opts.log.warn('malformed frame on fast channel; closing it', { peer: peerId });
      socket.destroy();
    };
    if (head.length > 0) onChunk(head);
    socket.on('data', onChunk);
  }
}

/** An HTTP answer on the raw socket, with the API's JSON error body ({error, reason}). */
function refuse(socket: Duplex, status: number, text: string, reason = 'bad_request'): void {
  if (socket.destroyed) return;
  const body = JSON.stringify({ error: text, reason });
  socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  setTimeout(() => socket.destroy(), 1000).unref();
}
