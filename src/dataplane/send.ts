// The send path (inside: TUN -> peer), run by each worker: packets local applications wrote into
// the TUN device, to peers; receive.ts is its mirror.
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
//   4. append       the peer's transport (transport.ts) copies the packet once into its pending
//                   batch (a fast channel frames it into its slab: fast/channel.ts, dialling on
//                   the first packet; the legacy sender queues it: legacy/sender.ts), or says why
//                   it was dropped: `no_session`, `node_close` (channel down), `queue_full`.
//   5. flush        after the whole TUN batch, each touched transport sends once: one
//                   socket.write per fast channel, one POST loop kick per legacy peer.
//   6. counting     drops and TUN counters go to prom-client once per batch, not per packet.
// With TUN offloads (batch.vnetHeader > 0) each read starts with a virtio_net_hdr and may be a
// GSO super-packet above the MTU: step 2 lets those through, step 4 goes through
// appendWithHeader() (offload-append.ts), which sends them whole on v2 channels.
import { packetOffset, type PacketBatch, type TunQueue } from '../tun/queue.js';
import { ipv4Dst } from '../tun/ipv4.js';
import { IPV6_HEADER_LENGTH } from '../tun/ipv6.js';
import type { DataPlaneState, PeerRoute } from './contract.js';
import type { DropReason } from './drop-reasons.js';
import { FastChannel } from './fast/channel.js';
import { LegacySender } from './legacy/sender.js';
import { BROADCAST, RouteTable, type Destination } from './route-table.js';
import { PacketTooBig } from './packet-too-big.js';
import { appendWithHeader, isSuperPacket } from './offload-append.js';
import type { PeerTransport, TransportDeps } from './transport.js';
import type { DataPlaneMetrics } from './metrics.js';

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
    if (existing !== undefined && existing.path === peer.path && existing.frames === (peer.frames ?? 1)) {
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
    const h = batch.vnetHeader;
    let bytes = 0;
    let ipv6 = 0;
    for (let i = 0; i < batch.count; i++) {
      const at = packetOffset(batch, i);
      const total = batch.lengths[i]!;
      const off = at + h;
      const len = total - h;
      const version = batch.buffer[off]! >>> 4;
      bytes += len;
      if (version === 6) ipv6++;
      if (table === null) this.drops.add('no_route');
      else if (len > this.mtu && (h === 0 || !isSuperPacket(batch.buffer, at))) this.drops.add('oversized');
      else if (version === 4 && len >= IPV4_MIN_HEADER) this.route(table, table.lookup(ipv4Dst(batch.buffer, off)), batch.buffer, at, total, off, epoch);
      else if (version === 6 && len >= IPV6_HEADER_LENGTH) this.route6(table, batch.buffer, at, total, off, epoch);
      else this.drops.add('unsupported');
    }
    for (const t of this.touched) t.flush();
    this.touched.length = 0;
    this.deps.metrics.readFromTun(batch.count, bytes, ipv6);
    this.drops.flushTo(this.deps.metrics);
  }

  /** buf[at, at + len) is the packet, behind its virtio_net_hdr when the TUN has offloads (ip: the IP header). */
  private route(table: RouteTable<PeerTransport>, dest: Destination<PeerTransport>, buf: Buffer, at: number, len: number, ip: number, epoch: number): void {
    if (typeof dest === 'string') {
      if (dest !== BROADCAST) this.drops.add(dest);
      else for (const t of table.all) this.appendTo(t, buf, at, len, epoch, ip > at);
      return;
    }
    this.appendTo(dest, buf, at, len, epoch, ip > at);
  }

  /** As route(), for IPv6: a packet above the peer's MTU is answered with a Packet Too Big (a super-packet is cut to size on the way). */
  private route6(table: RouteTable<PeerTransport>, buf: Buffer, at: number, len: number, ip: number, epoch: number): void {
    const route = table.lookup6(buf, ip);
    if (typeof route === 'string') return this.drops.add(route);
    const ipLen = len - (ip - at);
    if (ipLen <= route.mtu || (ip > at && isSuperPacket(buf, at))) return this.appendTo(route.value, buf, at, len, epoch, ip > at);
    this.drops.add('oversized');
    this.tooBig.answer(buf, ip, ipLen, route.mtu);
  }

  private appendTo(t: PeerTransport, buf: Buffer, at: number, len: number, epoch: number, vnet: boolean): void {
    const dropped = vnet ? appendWithHeader(t, buf, at, len, this.mtu) : t.append(buf, at, len);
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
