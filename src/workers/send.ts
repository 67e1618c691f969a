// The worker's send path: packets local applications wrote into the TUN device, to peers.
//
//   1. TUN queue    the native reader drains up to a batch of packets into one reused buffer and
//                   calls onBatch() once (no per-packet JS call, no allocation).
//   2. checks       per packet: IPv4, or IPv6 when we have an IPv6 address (else `unsupported`),
//                   at most the MTU (`oversized`).
//   3. routing      destination -> RouteTable (IPv4: uint32 keys; IPv6: read in place): our own
//                   address `loopback`, outside the mesh `outside_configured_network`, broadcast
//                   to every peer when enabled (the original drops it) else `config_prohibited`,
//                   unknown `no_route`; IPv6 link-scoped (NDP, MLD) `link_local`.
//                   IPv6 larger than the peer's MTU (its claim): `oversized`, answered with an
//                   ICMPv6 Packet Too Big written into our own TUN (packet-too-big.ts).
//   4. append       the peer's transport copies the packet once into its pending batch (a fast
//                   channel frames it into a slab, the legacy sender queues it), or says why it
//                   was dropped: `no_session`, `node_close` (channel down), `queue_full`.
//   5. flush        after the whole TUN batch, each touched transport sends once: one
//                   socket.write per fast channel, one POST loop kick per legacy peer.
//   6. counting     drops and TUN counters go to prom-client once per batch, not per packet.
import { packetOffset, type PacketBatch, type TunQueue } from '../tun/queue.js';
import { ipv4Dst } from '../tun/ipv4.js';
import { IPV6_HEADER_LENGTH } from '../tun/ipv6.js';
import type { DataPlaneState, DropReason, PeerRoute } from '../dataplane/contract.js';
import { FastChannel } from '../dataplane/fast-channel.js';
import { LegacySender } from '../dataplane/legacy-sender.js';
import { BROADCAST, RouteTable, type Destination } from '../dataplane/route-table.js';
import { PacketTooBig } from '../dataplane/packet-too-big.js';
import type { PeerTransport, TransportDeps } from '../dataplane/transport.js';
import type { DataPlaneMetrics } from '../metrics/dataplane.js';

const IPV4_MIN_HEADER = 20;

/** Drop counts of one batch, handed to the metrics in one go. */
class DropTally {
  private readonly counts = new Map<DropReason, number>();
  add(reason: DropReason): void {
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + 1);
  }
  flushTo(metrics: DataPlaneMetrics): void {
    for (const [reason, n] of this.counts) {
      if (n > 0) metrics.drop(reason, n);
      this.counts.set(reason, 0);
    }
  }
}

export class SendPath {
  private table: RouteTable<PeerTransport> | null = null;
  private readonly transports = new Map<string, PeerTransport>();
  private readonly touched: PeerTransport[] = [];
  private readonly drops = new DropTally();
  private epoch = 0;
  private mtu = 0;
  private readonly tooBig: PacketTooBig;
  private readonly oneOffset = new Uint32Array(1);
  private readonly oneLength = new Uint32Array(1);

  constructor(
    private readonly queue: TunQueue,
    private readonly deps: Omit<TransportDeps, 'selfId' | 'mtu'>,
  ) {
    queue.onPackets((batch) => this.onBatch(batch));
    this.tooBig = new PacketTooBig((buf, len) => {
      this.oneLength[0] = len;
      return queue.writeBatch(buf, this.oneOffset, this.oneLength, 1).written === 1;
    });
  }

  /** Rebuilds routing from a complete state; keeps the transports of peers that stay. */
  setState(state: DataPlaneState): void {
    this.mtu = state.mtu;
    this.deps.signer.retain(state.peers);
    const seen = new Set<string>();
    this.table = new RouteTable(state, (peer) => {
      seen.add(peer.id);
      return this.transportFor(peer, state);
    });
    for (const [id, t] of this.transports) {
      if (seen.has(id)) continue;
      t.close();
      this.transports.delete(id);
      this.deps.metrics.forgetPeer(id);
    }
  }

  close(): void {
    this.queue.close();
    for (const t of this.transports.values()) t.close();
    this.transports.clear();
  }

  private transportFor(peer: PeerRoute, state: DataPlaneState): PeerTransport {
    const existing = this.transports.get(peer.id);
    if (existing !== undefined && existing.path === peer.path) {
      existing.update(peer);
      return existing;
    }
    existing?.close();
    const deps: TransportDeps = { ...this.deps, selfId: state.selfId, mtu: state.mtu };
    const t = peer.path === 'fast' ? new FastChannel(peer, deps) : new LegacySender(peer, deps);
    this.transports.set(peer.id, t);
    return t;
  }

  private onBatch(batch: PacketBatch): void {
    const table = this.table;
    const epoch = ++this.epoch;
    let bytes = 0;
    let ipv6 = 0;
    for (let i = 0; i < batch.count; i++) {
      const off = packetOffset(batch, i);
      const len = batch.lengths[i]!;
      const version = batch.buffer[off]! >>> 4;
      bytes += len;
      if (version === 6) ipv6++;
      if (table === null) this.drops.add('no_route');
      else if (len > this.mtu) this.drops.add('oversized');
      else if (version === 4 && len >= IPV4_MIN_HEADER) this.route(table, table.lookup(ipv4Dst(batch.buffer, off)), batch.buffer, off, len, epoch);
      else if (version === 6 && len >= IPV6_HEADER_LENGTH) this.route6(table, batch.buffer, off, len, epoch);
      else this.drops.add('unsupported');
    }
    for (const t of this.touched) t.flush();
    this.touched.length = 0;
    this.deps.metrics.readFromTun(batch.count, bytes, ipv6);
    this.drops.flushTo(this.deps.metrics);
  }

  private route(table: RouteTable<PeerTransport>, dest: Destination<PeerTransport>, buf: Buffer, off: number, len: number, epoch: number): void {
    if (typeof dest === 'string') {
      if (dest !== BROADCAST) this.drops.add(dest);
      else for (const t of table.all) this.appendTo(t, buf, off, len, epoch);
      return;
    }
    this.appendTo(dest, buf, off, len, epoch);
  }

  private route6(table: RouteTable<PeerTransport>, buf: Buffer, off: number, len: number, epoch: number): void {
    const route = table.lookup6(buf, off);
    if (typeof route === 'string') return this.drops.add(route);
    if (len <= route.mtu) return this.appendTo(route.value, buf, off, len, epoch);
    this.drops.add('oversized');
    this.tooBig.answer(buf, off, len, route.mtu);
  }

  private appendTo(t: PeerTransport, buf: Buffer, off: number, len: number, epoch: number): void {
    const dropped = t.append(buf, off, len);
    if (dropped !== null) {
      this.drops.add(dropped);
      return;
    }
    if (t.epoch !== epoch) {
      t.epoch = epoch;
      this.touched.push(t);
    }
  }
}
