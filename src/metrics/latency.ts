// How old a packet from a peer is when we accept it: from the sender reading it off its TUN
// device (the JSON path's internal_stamp, the sender's clock) to our receive path taking it.
// Exported as tunmesh_peer_packet_latency_seconds{peer}, and, with enable_node_packet_metrics
// (as the original gates it), under the original's histogram name
// tun_packet_latency_by_source_node{source_node_id} so its dashboards keep working.
// Fast-path frames carry no stamp (no per-packet clock reads on the hot path): only packets on
// the JSON path are observed.
import { Histogram, type Registry } from 'prom-client';

/** The Ruby prometheus-client's default buckets, which the original uses. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class PacketLatency {
  private readonly ours: Histogram;
  private readonly original: Histogram | undefined;

  constructor(registry: Registry, originalName: boolean) {
    const registers = [registry];
    this.ours = new Histogram({ name: 'tunmesh_peer_packet_latency_seconds', help: 'Age of packets received on the JSON path, from the sender\'s TUN read (its clock) to our receive', labelNames: ['peer'], buckets: BUCKETS, registers });
    if (originalName) {
      this.original = new Histogram({ name: 'tun_packet_latency_by_source_node', help: 'TunMesh: Packet latency by source node (original name)', labelNames: ['source_node_id'], buckets: BUCKETS, registers });
    }
  }

  observe(peerId: string, seconds: number): void {
    this.ours.labels(peerId).observe(seconds);
    this.original?.labels(peerId).observe(seconds);
  }

  /** A peer left the mesh: its series go. */
  forget(peerId: string): void {
    this.ours.remove(peerId);
    this.original?.remove(peerId);
  }
}
