// Data-plane counters, created in every process that moves packets (workers and the main
// process's receive path) and summed in the main process at scrape time (metrics/node.ts),
// which also registers them in the main process's own registry.
// Hot-path callers count per batch, through handles fetched once, never per packet. A handle is
// a plain number the hot path adds to (Tally); the prom-client counter takes what was added when
// it is read (its collect hook). Why: prom-client's inc() on a labelled child hashes the label set
// into a string on every call, and one packet's round trip made ~20 of them, on the path of the
// next packet when both nodes share a CPU (bench/README.md, "2026-12-08").
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

/** What the hot path counts into: one addition; the counter behind it reads and clears it when collected. */
export class Tally {
  pending = 0;

  inc(n: number): void {
    this.pending += n;
  }

  /** What was added since the last take. */
  take(): number {
    const n = this.pending;
    this.pending = 0;
    return n;
  }
}

/** A prom-client counter fed by tallies: one per label value ('' for a counter without labels). */
class TalliedCounter {
  private readonly tallies = new Map<string, Tally>();
  private readonly counter: Counter;

  constructor(registry: Registry, name: string, help: string, labelName?: string) {
    const tallies = this.tallies;
    this.counter = new Counter({
      name,
      help,
      labelNames: labelName === undefined ? [] : [labelName],
      registers: [registry],
      aggregator: 'sum',
      // Runs whenever the counter is read (a scrape, a worker's report to main, a status refresh).
      collect() {
        for (const [value, tally] of tallies) {
          const n = tally.take();
          if (n > 0) (labelName === undefined ? this : this.labels(value)).inc(n);
        }
      },
    });
  }

  /** The tally of one label value ('' on a counter without labels); its series exists from now on, at 0. */
  tally(value = ''): Tally {
    let t = this.tallies.get(value);
    if (t === undefined) {
      t = new Tally();
      this.tallies.set(value, t);
      (value === '' ? this.counter : this.counter.labels(value)).inc(0);
    }
    return t;
  }

  /** The series of one label value goes, with what its tally held. */
  remove(value: string): void {
    this.tallies.delete(value);
    this.counter.remove(value);
  }
}

export interface PeerCounters {
  txPackets: Tally;
  txBytes: Tally;
  rxPackets: Tally;
  rxBytes: Tally;
  /** 1 while this process's data channel to the peer works, 0 while it is down. */
  channelUp: { set(v: number): void };
}

export class DataPlaneMetrics {
  private readonly tunRead: { packets: Tally; bytes: Tally; ipv6: Tally };
  private readonly tunWritten: { packets: Tally; bytes: Tally; ipv6: Tally };
  private readonly peer: { txPackets: TalliedCounter; txBytes: TalliedCounter; rxPackets: TalliedCounter; rxBytes: TalliedCounter };
  private readonly reconnects: Counter;
  private readonly superPacketTallies: { tx: Tally; rx: Tally };
  private readonly coalescedTallies: { segments: Tally; superPackets: Tally };
  private readonly channelUp: Gauge;
  private readonly inbound: Gauge;
  private readonly dropTallies = new Map<DropReason, Tally>();
  private readonly peerHandles = new Map<string, PeerCounters>();

  constructor(registry: Registry) {
    const tallied = (name: string, help: string, labelName?: string): TalliedCounter => new TalliedCounter(registry, name, help, labelName);
    const tally = (name: string, help: string): Tally => tallied(name, help).tally();
    this.tunRead = {
      packets: tally('tunmesh_tun_read_packets_total', 'Packets read from the TUN device (sent by local applications)'),
      bytes: tally('tunmesh_tun_read_bytes_total', 'Bytes read from the TUN device'),
      ipv6: tally('tunmesh_tun_read_ipv6_packets_total', 'Of the packets read from the TUN device, those that are IPv6 (the rest is IPv4)'),
    };
    this.tunWritten = {
      packets: tally('tunmesh_tun_written_packets_total', 'Packets written to the TUN device (received from peers)'),
      bytes: tally('tunmesh_tun_written_bytes_total', 'Bytes written to the TUN device'),
      ipv6: tally('tunmesh_tun_written_ipv6_packets_total', 'Of the packets written to the TUN device, those that are IPv6 (the rest is IPv4)'),
    };
    this.peer = {
      txPackets: tallied('tunmesh_peer_tx_packets_total', 'Packets sent to a peer', 'peer'),
      txBytes: tallied('tunmesh_peer_tx_bytes_total', 'Bytes of packets sent to a peer', 'peer'),
      rxPackets: tallied('tunmesh_peer_rx_packets_total', 'Packets received from a peer', 'peer'),
      rxBytes: tallied('tunmesh_peer_rx_bytes_total', 'Bytes of packets received from a peer', 'peer'),
    };
    // Every reason has a series from the start: "zero drops" is not "no data".
    const drops = tallied('tunmesh_dropped_packets_total', 'Packets dropped, by reason', 'reason');
    for (const reason of DROP_REASONS) this.dropTallies.set(reason, drops.tally(reason));
    // Summed over the workers: how many of them have a working channel to the peer. Tells an idle
    // peer (channels up, no traffic) from an unreachable one (channels down).
    this.channelUp = new Gauge({ name: 'tunmesh_peer_channels_up', help: 'Data-plane channels to a peer that currently work (one per worker)', labelNames: ['peer'], registers: [registry], aggregator: 'sum' });
    // Where inbound fast channels are received: in a worker (opened on the channel port, replies
    // leave from the same process) or in the main process (the API port: older tunmesh peers).
    this.inbound = new Gauge({ name: 'tunmesh_inbound_channels', help: 'Inbound fast channels open, by the process kind receiving them', labelNames: ['receiver'], registers: [registry], aggregator: 'sum' });
    this.reconnects = new Counter({ name: 'tunmesh_channel_reconnects_total', help: 'Fast-path channel (re)connections opened to a peer', labelNames: ['peer'], registers: [registry], aggregator: 'sum' });
    const superPackets = tallied('tunmesh_offload_super_packets_total', 'GSO super-packets carried whole on offload (v2) fast channels: tx sent, rx written to the TUN', 'direction');
    this.superPacketTallies = { tx: superPackets.tally('tx'), rx: superPackets.tally('rx') };
    const coalesced = tallied('tunmesh_offload_coalesced_total', 'Software GRO before the TUN write: segments merged (plain packets from v1 channels and the JSON path), and the super-packets they made', 'kind');
    this.coalescedTallies = { segments: coalesced.tally('segments'), superPackets: coalesced.tally('super_packets') };
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
    if (n > 0) this.dropTallies.get(reason)?.inc(n);
  }

  /** GSO super-packets sent (tx) or received (rx) whole on v2 channels. */
  superPackets(direction: 'tx' | 'rx', n: number): void {
    if (n > 0) this.superPacketTallies[direction].inc(n);
  }

  /** An inbound fast channel opened (+1) or closed (-1) in a `receiver` process. */
  inboundChannel(receiver: 'main' | 'worker', delta: 1 | -1): void {
    this.inbound.labels(receiver).inc(delta);
  }

  /** Software GRO: `segments` plain packets merged into `superPackets` super-packets. */
  coalesced(segments: number, superPackets: number): void {
    if (segments === 0) return;
    this.coalescedTallies.segments.inc(segments);
    this.coalescedTallies.superPackets.inc(superPackets);
  }

  reconnect(peerId: string): void {
    this.reconnects.labels(peerId).inc(1);
  }

  /** Per-peer handles; fetch once per peer and keep. */
  forPeer(peerId: string): PeerCounters {
    let handles = this.peerHandles.get(peerId);
    if (!handles) {
      handles = {
        txPackets: this.peer.txPackets.tally(peerId),
        txBytes: this.peer.txBytes.tally(peerId),
        rxPackets: this.peer.rxPackets.tally(peerId),
        rxBytes: this.peer.rxBytes.tally(peerId),
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
