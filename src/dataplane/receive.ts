// The receive path (outside: peer -> TUN): packets from peers, into our TUN device; send.ts is
// its mirror. The main process runs one for the JSON path and for channels upgraded on the API
// port; each worker runs one for the channels its channel server takes (fast/channel-server.ts),
// writing through the worker's own TUN queue so the reply is read by the process that wrote the
// request (the kernel returns a flow on the queue that last wrote it): one process wake-up per
// hop instead of two.
//
//   1. upgrade      a peer's worker opens `GET /tunmesh/fastpath/v1/<its id>` with
//                   `Upgrade: tunmesh-fastpath/1`; handleUpgrade() checks the path and token
//                   (fast/handshake.ts, else 400), has `authenticate` judge the session token
//                   (over the empty body, iss = the path's id; with mutual TLS also the client
//                   certificate and the deny list; in a worker, main judges: upgrade-checks.ts)
//                   and answers 101, or 401/403 and closes. One check per channel, not per
//                   packet. A channel lives as long as the session key it was opened with: once
//                   that key no longer verifies (rotated past its overlap, or its peer forgotten
//                   or denied) the channel is closed (session-check.ts, endSessions); the sender
//                   has already moved to a channel under its new session (fast/channel.ts,
//                   renewing).
//   2. frames       each chunk read from the TLS socket is split into `[u16 length][packet]`
//                   frames in place (fast/inbound.ts, FrameReader: offsets into the chunk; only a
//                   frame cut between two chunks is reassembled, in one preallocated buffer). A
//                   frame of length 0 or beyond the framing's maximum is `malformed`: that channel
//                   is closed, the node carries on.
//   3. checks       per packet, accept(): longer than our MTU is `oversized` (dropped, channel
//                   kept: a peer may have a larger MTU); then the original's rules (checks.ts),
//                   for IPv4 and IPv6 alike: the source must be a known node's address
//                   (`no_return_route`), that node must be the sender (`route_conflict`), the
//                   destination us or an allowed IPv4 broadcast (`misrouted`).
//   4. TUN write    the accepted packets of a chunk go to the kernel in ONE writeBatch on the
//                   process's TUN queue (tun-batch.ts; two when a reassembled frame starts the
//                   chunk); packets the kernel refuses or has no room for are `tun_issue`. In a
//                   worker the queue is then read at once (TunQueue.readNow): what the kernel
//                   answered within the write (a ping's reply, a TCP ACK) goes out through the
//                   send path before the rest of this event-loop turn. On a
//                   TUN with offloads, plain packets (v1 channels, the JSON path) are merged first
//                   where they are consecutive TCP segments of one flow (software GRO,
//                   offload/coalesce.ts), and written once per event-loop turn rather than per
//                   chunk (chunkDone).
//   5. legacy       receiveLegacy(): the original's JSON packets (routes in src/api) are decoded
//                   (legacy/packet.ts; `malformed`, `expired`), then take steps 3 and 4.
//   6. state        setState() rebuilds the address table and closes the channels of peers that
//                   left the mesh.
// Offloads: a node whose TUN has a virtio_net_hdr (vnetHeader) also accepts `tunmesh-fastpath/2`
// channels, whose v2 frames carry that header and possibly a GSO super-packet (fast/frames.ts).
// The header goes to the TUN with the packet (the kernel segments or delivers it whole; checksums
// stay the kernel's business, NEEDS_CSUM passes through); the checks of step 3 read the packet's
// IP header (acceptWithHeader), and the MTU limit applies to plain packets only. Packets of v1
// channels and of the JSON path get an empty header in front on such a TUN (one writev, no copy).
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { LevelLogger } from '../log/logger.js';
import type { TunQueue } from '../tun/queue.js';
import { VNET_HDR_LEN, vnetGsoType, VNET_GSO_NONE } from '../tun/vnet.js';
import { errorMessage } from '../log/error-message.js';
import { refusalOf } from '../security/refusal.js';
import { Coalescer } from '../offload/coalesce.js';
import { checkInbound } from './checks.js';
import type { DataPlaneState, PeerRoute } from './contract.js';
import type { DropReason } from './drop-reasons.js';
import { DataPlaneError } from './errors.js';
import type { DataPlaneMetrics } from './metrics.js';
import { RouteTable } from './route-table.js';
import { TunBatch } from './tun-batch.js';
import { acceptUpgrade, parseUpgrade, refuseUpgrade } from './fast/handshake.js';
import { boundChannelQueue, RECEIVER_BOUNDS } from './fast/socket-queue.js';
import type { FrameVersion } from './fast/frames.js';
import { InboundChannels, type InboundPackets } from './fast/inbound.js';
import { decodeLegacyPacket, stampSeconds } from './legacy/packet.js';
import { SessionCheck } from './session-check.js';

/**
 * Receive-side age limit on top of the packet expiration: the stamp is the sender's clock, and
 * two nodes' clocks differ by more than the original's 0.1 s expiration. Only very stale packets
 * (a stuck queue, a replay) are refused.
 */
const RECEIVE_CLOCK_TOLERANCE_S = 5;
/** Largest packet we accept before the first state says the MTU. */
const DEFAULT_MTU = 1500;

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

class Receiver implements ReceivePath, InboundPackets {
  private readonly batch: TunBatch;
  /** Software GRO of plain packets, on a TUN with offloads (offload/coalesce.ts). */
  private readonly coalescer: Coalescer | null;
  private readonly inbound: InboundChannels;
  private table: RouteTable<PeerRoute> | null = null;
  private mtu = DEFAULT_MTU;
  private closed = false;
  private readonly drops = new Map<DropReason, number>();
  /** Checks open channels against the session keys they were opened with, while any has one. */
  private readonly sessionCheck: SessionCheck | undefined;
  private writeQueued = false;

  constructor(private readonly opts: ReceivePathOptions) {
    this.batch = new TunBatch(opts.tun, opts.metrics);
    this.coalescer = opts.vnetHeader === true ? new Coalescer(this.batch) : null;
    this.inbound = new InboundChannels(this, { metrics: opts.metrics, log: opts.log, receiver: opts.receiver });
    const live = opts.keyLive;
    if (live) this.sessionCheck = new SessionCheck(() => this.inbound.endSessions(live));
  }

  /** Step 1: the server half of the upgrade (fast/handshake.ts), the token judged by `authenticate`. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const ask = parseUpgrade(req.url, req.headers.upgrade, this.opts.vnetHeader === true);
    if (ask === null) return refuseUpgrade(socket, 400);
    const { peerId, version } = ask;
    socket.on('error', (err) => this.opts.log.debug('fast channel error', { peer: peerId, error: err.message }));
    this.opts
      .authenticate(req.headers.authorization, Buffer.alloc(0), 'session', peerId, socket)
      .then((auth) => this.accepted(auth, socket, head, version))
      .catch((err: unknown) => {
        const refusal = refusalOf(err) ?? { status: 401, reason: 'malformed_token' };
        this.opts.onRefused?.(refusal.reason);
        this.opts.log.info('fast channel refused', { peer: peerId, reason: refusal.reason, error: errorMessage(err) });
        refuseUpgrade(socket, refusal.status, refusal.reason);
      });
  }

  /** Step 1's 101, then step 2: the channel's frames (fast/inbound.ts) come to accept(). */
  private accepted(auth: ReceiveAuth, socket: Duplex, head: Buffer, version: FrameVersion): void {
    // The token check is async: the node may have stopped meanwhile.
    if (this.closed) return void socket.destroy();
    if (socket.destroyed) return;
    acceptUpgrade(socket, version);
    boundChannelQueue(socket, RECEIVER_BOUNDS, this.opts.log);
    this.inbound.add(auth.peerId, auth.keyId, socket, head, version);
    if (auth.keyId !== undefined) this.sessionCheck?.arm();
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

  private readonly queuedWrite = (): void => {
    this.writeQueued = false;
    if (!this.closed) this.writeOut();
  };

  /** Step 4: what the checks accepted, to the TUN (merged first where the TUN has offloads). */
  private writeOut(): void {
    const c = this.coalescer;
    if (c === null) return void this.batch.write();
    c.flush();
    this.opts.metrics.coalesced(c.merged, c.superPackets);
    c.merged = c.superPackets = 0;
  }

  /** Step 5: the original's JSON packets, decoded, then steps 3 and 4. */
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

  /** Step 6: a new table; the channels of peers that left the mesh close. */
  setState(state: DataPlaneState): void {
    this.table = new RouteTable(state, (peer) => peer);
    this.mtu = state.mtu;
    for (const peerId of this.inbound.keepOnly(new Set(state.peers.map((p) => p.id)))) this.opts.metrics.forgetPeer(peerId);
  }

  /** Step 1's lifetime rule: channels whose session key no longer verifies end. */
  endSessions(live: (keyId: string) => boolean): void {
    this.inbound.endSessions(live);
  }

  channels(): Map<string, number> {
    return this.inbound.counts();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.sessionCheck?.stop();
    this.inbound.closeAll();
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
}
