// The original's metric names (reference §8): unprefixed gauges, derived at scrape time from
// tunmesh's counters so there is one source of truth and existing dashboards keep working.
import { Gauge, Registry } from 'prom-client';
import { samplesOf, type MetricFamily } from './samples.js';

function sum(all: MetricFamily[], name: string): number {
  return samplesOf(all, name).reduce((acc, s) => acc + s.value, 0);
}

const TOTALS: Array<[legacy: string, source: string]> = [
  ['remote_tx_packets', 'tunmesh_peer_tx_packets_total'],
  ['remote_tx_bytes', 'tunmesh_peer_tx_bytes_total'],
  ['remote_rx_packets', 'tunmesh_peer_rx_packets_total'],
  ['remote_rx_bytes', 'tunmesh_peer_rx_bytes_total'],
  // The original counts from the TUN's point of view: tx = written to it, rx = read from it.
  ['tun_tx_packets', 'tunmesh_tun_written_packets_total'],
  ['tun_tx_bytes', 'tunmesh_tun_written_bytes_total'],
  ['tun_rx_packets', 'tunmesh_tun_read_packets_total'],
  ['tun_rx_bytes', 'tunmesh_tun_read_bytes_total'],
];

const PER_PEER: Array<[legacy: string, source: string, label: string]> = [
  ['remote_rx_packets_by_source_node', 'tunmesh_peer_rx_packets_total', 'source_node_id'],
  ['remote_rx_bytes_by_source_node', 'tunmesh_peer_rx_bytes_total', 'source_node_id'],
  ['remote_tx_packets_by_dest_node', 'tunmesh_peer_tx_packets_total', 'dest_node_id'],
  ['remote_tx_bytes_by_dest_node', 'tunmesh_peer_tx_bytes_total', 'dest_node_id'],
];

export function legacyMetrics(all: MetricFamily[], opts: { startStamp: number; perPeer: boolean }): Registry {
  const registry = new Registry();
  const registers = [registry];
  new Gauge({ name: 'start_stamp', help: 'Node start time (original name)', registers }).set(opts.startStamp);
  const drops = new Gauge({ name: 'dropped_packets', help: 'Dropped packets by reason (original name)', labelNames: ['reason'], registers });
  for (const s of samplesOf(all, 'tunmesh_dropped_packets_total')) drops.set({ reason: String(s.labels.reason) }, s.value);
  for (const [legacy, source] of TOTALS) {
    new Gauge({ name: legacy, help: `Original name for the sum of ${source}`, registers }).set(sum(all, source));
  }
  if (opts.perPeer) {
    for (const [legacy, source, label] of PER_PEER) {
      const g = new Gauge({ name: legacy, help: `Original per-node name for ${source}`, labelNames: [label], registers });
      for (const s of samplesOf(all, source)) g.set({ [label]: String(s.labels.peer) }, s.value);
    }
  }
  return registry;
}
