// Control-plane metrics of the main process, and the scrape: the main registry and the
// latest snapshot of every worker's registry are summed with prom-client's aggregator
// (workers are child_process forks, so clusterMetrics() does not apply), then the
// original's unprefixed gauges are derived from the sums so existing dashboards keep working.
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { collectProcessMetrics } from './process.js';
import { DataPlaneMetrics, peerTrafficJson, type PeerTrafficSeries } from '../dataplane/metrics.js';
import { legacyMetrics } from './legacy.js';
import { PacketLatency } from './latency.js';
import { samplesOf, type MetricFamily } from './samples.js';
import type { CertificateExpiry } from '../security/cert-expiry.js';
import { SecurityMetrics } from './security.js';
import { FirewallMetrics } from '../firewall/metrics.js';

type MetricJson = MetricFamily;

/** One peer's traffic and working data channels, summed over the node's processes. */
export interface PeerTrafficView {
  txPackets: number;
  txBytes: number;
  rxPackets: number;
  rxBytes: number;
  channelsUp: number;
}

export interface NodeMetricsOptions {
  nodeId: string;
  version: string;
  baseLabels: Record<string, string>;
  perPeerLegacy: boolean;
  startStamp: number;
  /** Unix seconds when this node's certificate and its CA expire; asked at every scrape. */
  certificateNotAfter?: () => CertificateExpiry;
}

export class NodeMetrics {
  readonly registry = new Registry();
  readonly dataPlane: DataPlaneMetrics;
  readonly latency: PacketLatency;
  readonly authFailures: Counter;
  readonly sessionEvents: Counter;
  readonly registrationEvents: Counter;
  readonly controlDeferred: Counter;
  readonly peers: Gauge;
  readonly certExpiry: Gauge;
  readonly registrationRtt: Histogram;
  readonly security: SecurityMetrics;
  readonly firewall: FirewallMetrics;
  private readonly labels: Record<string, string>;

  constructor(private readonly opts: NodeMetricsOptions) {
    const registers = [this.registry];
    const certificateNotAfter = opts.certificateNotAfter;
    this.labels = { ...opts.baseLabels, node_id: opts.nodeId };
    collectProcessMetrics(this.registry, 'tunmesh_main_');
    this.dataPlane = new DataPlaneMetrics(this.registry);
    this.latency = new PacketLatency(this.registry, opts.perPeerLegacy);
    new Gauge({ name: 'tunmesh_build_info', help: 'Build information (always 1)', labelNames: ['version', 'node_version'], registers }).set(
      { version: opts.version, node_version: process.version },
      1,
    );
    new Gauge({ name: 'tunmesh_start_time_seconds', help: 'Unix time the node started', registers }).set(opts.startStamp);
    this.authFailures = new Counter({ name: 'tunmesh_auth_failures_total', help: 'Refused tokens, by reason', labelNames: ['reason'], registers });
    this.sessionEvents = new Counter({ name: 'tunmesh_session_events_total', help: 'Session negotiations: opened, rotated, failed, issued (an init_session answered), offered (both sessions in a registration answer)', labelNames: ['event'], registers });
    this.registrationEvents = new Counter({ name: 'tunmesh_registration_events_total', help: 'Registration and grooming events', labelNames: ['event'], registers });
    this.controlDeferred = new Counter({
      name: 'tunmesh_control_deferred_total',
      help: 'Outgoing control requests that waited for a slot (lane keep: existing links, grow: new ones)',
      labelNames: ['lane'],
      registers,
    });
    this.registrationRtt = new Histogram({
      name: 'tunmesh_registration_round_trip_seconds',
      help: 'Duration of successful registration round trips to peers (TLS, auth, handling)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.security = new SecurityMetrics(this.registry);
    this.firewall = new FirewallMetrics(this.registry);
    this.peers = new Gauge({ name: 'tunmesh_peers', help: 'Known peers, by state', labelNames: ['state'], registers });
    this.certExpiry = new Gauge({
      name: 'tunmesh_tls_certificate_expiry_seconds',
      help: 'Seconds until a certificate expires (computed at scrape time): kind="node" this node\'s, kind="ca" the earliest in its CA file',
      labelNames: ['kind'],
      registers,
      collect() {
        const expiry = certificateNotAfter?.() ?? {};
        const now = Date.now() / 1000;
        for (const kind of ['node', 'ca'] as const) {
          const notAfter = expiry[kind];
          if (notAfter === undefined) this.remove(kind);
          else this.labels(kind).set(notAfter - now);
        }
      },
    });
  }

  /** Render the scrape: main + workers summed, then the original's names derived. */
  async render(workerSnapshots: unknown[]): Promise<string> {
    const own = await this.registry.getMetricsAsJSON();
    const snapshots = [own, ...workerSnapshots.filter(isMetricList)];
    const merged = AggregatorRegistry.aggregate(snapshots as MetricJson[][]);
    merged.setDefaultLabels(this.labels);
    const mergedJson = (await merged.getMetricsAsJSON()) as MetricJson[];
    const legacy = legacyMetrics(mergedJson, { startStamp: this.opts.startStamp, perPeer: this.opts.perPeerLegacy });
    legacy.setDefaultLabels(this.labels);
    return (await merged.metrics()) + '\n' + (await legacy.metrics());
  }

  /** Per-peer packet and byte totals (for `tunmesh status`), summed over all processes. */
  async peerTraffic(workerSnapshots: unknown[]): Promise<Map<string, PeerTrafficView>> {
    const own = await peerTrafficJson(this.registry);
    const all = [own, ...workerSnapshots.filter(isMetricList)] as MetricJson[][];
    const out = new Map<string, PeerTrafficView>();
    const fields = PEER_TRAFFIC_FIELDS;
    for (const list of all) {
      for (const [name, field] of fields) {
        for (const v of samplesOf(list, name)) {
          const peer = String(v.labels.peer);
          const entry = out.get(peer) ?? { txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0, channelsUp: 0 };
          entry[field] += v.value;
          out.set(peer, entry);
        }
      }
    }
    return out;
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

function isMetricList(v: unknown): v is MetricJson[] {
  return Array.isArray(v) && v.every((m) => typeof m === 'object' && m !== null && 'name' in m && 'values' in m);
}

/** Which column of `tunmesh status` each per-peer series (dataplane/metrics.ts) fills. */
const PEER_TRAFFIC_FIELDS: ReadonlyArray<[PeerTrafficSeries, keyof PeerTrafficView]> = [
  ['tunmesh_peer_channels_up', 'channelsUp'],
  ['tunmesh_peer_tx_packets_total', 'txPackets'],
  ['tunmesh_peer_tx_bytes_total', 'txBytes'],
  ['tunmesh_peer_rx_packets_total', 'rxPackets'],
  ['tunmesh_peer_rx_bytes_total', 'rxBytes'],
];
