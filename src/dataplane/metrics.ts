// Data-plane counters, created in every process that moves packets (workers and the main
// process's receive path) and summed in the main process at scrape time (metrics/node.ts),
// which also registers them in the main process's own registry.
// Hot-path callers count per batch, through per-peer handles fetched once, never per packet.
import { Counter, Gauge, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';
import { DROP_REASONS, type DropReason } from './drop-reasons.js';

/** The per-peer series behind `tunmesh status`'s traffic columns. */
export const PEER_TRAFFIC_SERIES = ['tunmesh_peer_channels_up', 'tunmesh_peer_tx_packets_total', 'tunmesh_peer_tx_bytes_total', 'tunmesh_peer_rx_packets_total', 'tunmesh_peer_rx_bytes_total'] as const;
export type PeerTrafficSeries = (typeof PEER_TRAFFIC_SERIES)[number];

/**
 * Those series of `registry` as prom-client JSON: what a status refresh reads, every few seconds,
 * in main and in each worker, instead of collecting the whole registry (its process metrics and
 * scrape-time collectors, certificate parsing among them).
 */
export async function peerTrafficJson(registry: Registry): Promise<Array<MetricObjectWithValues<MetricValue<string>>>> {
  const series = await Promise.all(PEER_TRAFFIC_SERIES.map((name) => registry.getSingleMetric(name)?.get()));
  return series.filter((m) => m !== undefined);
}

export interface PeerCounters {
  txPackets: { inc(n: number): void };
  txBytes: { inc(n: number): void };
  rxPackets: { inc(n: number): void };
  rxBytes: { inc(n: number): void };
  /** 1 while this process's data channel to the peer works, 0 while it is down. */
  channelUp: { set(v: number): void };
}

export class DataPlaneMetrics {
  private readonly tunRead: { packets: Counter; bytes: Counter; ipv6: Counter };
  private readonly tunWritten: { packets: Counter; bytes: Counter; ipv6: Counter };
  private readonly peer: { txPackets: Counter; txBytes: Counter; rxPackets: Counter; rxBytes: Counter };
  private readonly drops: Counter;
  private readonly reconnects: Counter;
  private readonly superPacketHandles: { tx: { inc(n: number): void }; rx: { inc(n: number): void } };
  private readonly coalescedHandles: { segments: { inc(n: number): void }; superPackets: { inc(n: number): void } };
  private readonly channelUp: Gauge;
  private readonly inbound: Gauge;
  private readonly dropHandles = new Map<DropReason, { inc(n: number): void }>();
  private readonly peerHandles = new Map<string, PeerCounters>();

  constructor(registry: Registry) {
    const counter = (name: string, help: string, labelNames: string[] = []): Counter =>
      new Counter({ name, help, labelNames, registers: [registry], aggregator: 'sum' });
    this.tunRead = {
      packets: counter('tunmesh_tun_read_packets_total', 'Packets read from the TUN device (sent by local applications)'),
      bytes: counter('tunmesh_tun_read_bytes_total', 'Bytes read from the TUN device'),
      ipv6: counter('tunmesh_tun_read_ipv6_packets_total', 'Of the packets read from the TUN device, those that are IPv6 (the rest is IPv4)'),
    };
    this.tunWritten = {
      packets: counter('tunmesh_tun_written_packets_total', 'Packets written to the TUN device (received from peers)'),
      bytes: counter('tunmesh_tun_written_bytes_total', 'Bytes written to the TUN device'),
      ipv6: counter('tunmesh_tun_written_ipv6_packets_total', 'Of the packets written to the TUN device, those that are IPv6 (the rest is IPv4)'),
    };
    this.peer = {
      txPackets: counter('tunmesh_peer_tx_packets_total', 'Packets sent to a peer', ['peer']),
      txBytes: counter('tunmesh_peer_tx_bytes_total', 'Bytes of packets sent to a peer', ['peer']),
      rxPackets: counter('tunmesh_peer_rx_packets_total', 'Packets received from a peer', ['peer']),
      rxBytes: counter('tunmesh_peer_rx_bytes_total', 'Bytes of packets received from a peer', ['peer']),
    };
    this.drops = counter('tunmesh_dropped_packets_total', 'Packets dropped, by reason', ['reason']);
    // Summed over the workers: how many of them have a working channel to the peer. Tells an idle
    // peer (channels up, no traffic) from an unreachable one (channels down).
    this.channelUp = new Gauge({ name: 'tunmesh_peer_channels_up', help: 'Data-plane channels to a peer that currently work (one per worker)', labelNames: ['peer'], registers: [registry], aggregator: 'sum' });
    // Where inbound fast channels are received: in a worker (opened on the channel port, replies
    // leave from the same process) or in the main process (the API port: older tunmesh peers).
    this.inbound = new Gauge({ name: 'tunmesh_inbound_channels', help: 'Inbound fast channels open, by the process kind receiving them', labelNames: ['receiver'], registers: [registry], aggregator: 'sum' });
    this.reconnects = counter('tunmesh_channel_reconnects_total', 'Fast-path channel (re)connections opened to a peer', ['peer']);
    const superPackets = counter('tunmesh_offload_super_packets_total', 'GSO super-packets carried whole on offload (v2) fast channels: tx sent, rx written to the TUN', ['direction']);
    this.superPacketHandles = { tx: superPackets.labels('tx'), rx: superPackets.labels('rx') };
    superPackets.labels('tx').inc(0);
    superPackets.labels('rx').inc(0);
    const coalesced = counter('tunmesh_offload_coalesced_total', 'Software GRO before the TUN write: segments merged (plain packets from v1 channels and the JSON path), and the super-packets they made', ['kind']);
    this.coalescedHandles = { segments: coalesced.labels('segments'), superPackets: coalesced.labels('super_packets') };
    this.coalescedHandles.segments.inc(0);
    this.coalescedHandles.superPackets.inc(0);
    for (const reason of DROP_REASONS) {
      const handle = this.drops.labels(reason);
      handle.inc(0); // every reason has a series from the start: "zero drops" is not "no data"
      this.dropHandles.set(reason, handle);
    }
  }

  /** `ipv6`: how many of the packets are IPv6. */
  readFromTun(packets: number, bytes: number, ipv6 = 0): void {
    this.tunRead.packets.inc(packets);
    this.tunRead.bytes.inc(bytes);
    this.tunRead.ipv6.inc(ipv6);
  }

  /** `ipv6`: how many of the packets are IPv6. */
  wroteToTun(packets: number, bytes: number, ipv6 = 0): void {
    this.tunWritten.packets.inc(packets);
    this.tunWritten.bytes.inc(bytes);
    this.tunWritten.ipv6.inc(ipv6);
  }

  drop(reason: DropReason, n = 1): void {
    if (n > 0) this.dropHandles.get(reason)?.inc(n);
  }

  /** GSO super-packets sent (tx) or received (rx) whole on v2 channels. */
  superPackets(direction: 'tx' | 'rx', n: number): void {
    if (n > 0) this.superPacketHandles[direction].inc(n);
  }

  /** An inbound fast channel opened (+1) or closed (-1) in a `receiver` process. */
  inboundChannel(receiver: 'main' | 'worker', delta: 1 | -1): void {
    this.inbound.labels(receiver).inc(delta);
  }

  /** Software GRO: `segments` plain packets merged into `superPackets` super-packets. */
  coalesced(segments: number, superPackets: number): void {
    if (segments === 0) return;
    this.coalescedHandles.segments.inc(segments);
    this.coalescedHandles.superPackets.inc(superPackets);
  }

  reconnect(peerId: string): void {
    this.reconnects.labels(peerId).inc(1);
  }

  /** Per-peer handles; fetch once per peer and keep. */
  forPeer(peerId: string): PeerCounters {
    let handles = this.peerHandles.get(peerId);
    if (!handles) {
      handles = {
        txPackets: this.peer.txPackets.labels(peerId),
        txBytes: this.peer.txBytes.labels(peerId),
        rxPackets: this.peer.rxPackets.labels(peerId),
        rxBytes: this.peer.rxBytes.labels(peerId),
        channelUp: this.channelUp.labels(peerId),
      };
      handles.channelUp.set(0);
      this.peerHandles.set(peerId, handles);
    }
    return handles;
  }

  /** A peer left the mesh: its series go (bounded label sets). */
  forgetPeer(peerId: string): void {
    if (!this.peerHandles.delete(peerId)) return;
    for (const c of [this.peer.txPackets, this.peer.txBytes, this.peer.rxPackets, this.peer.rxBytes]) c.remove(peerId);
    this.channelUp.remove(peerId);
    this.reconnects.remove(peerId);
  }
}
