// Read-only views of a running node, shared by /health, /metrics, the status socket and the
// peers gauge. They read the control plane's parts and, once forked (after the privilege drop),
// the data-plane workers; the node (node/) hands them in, so this folder knows no phase of it.
import type { TunmeshConfig } from '../config/types.js';
import type { MetricsScope } from '../dataplane/contract.js';
import type { LocalIdentity } from '../mesh/identity.js';
import type { Membership } from '../mesh/membership.js';
import type { Registry, RemoteNode } from '../mesh/registry.js';
import type { SessionManager } from '../mesh/session-manager.js';
import type { NodeMetrics } from '../metrics/node.js';
import { offloadNames } from '../tun/vnet.js';
import { healthReport, type HealthReport } from './health.js';
import { peerState, statusReport, type StatusReport } from './report.js';
import { VERSION } from '../version.js';
import { RateWindow, type PeerTraffic } from './rates.js';
import type { PeerCertBook } from '../security/peer-certs.js';

/** The control plane's parts the views read (node/control-plane.ts builds them). */
export interface MeshParts {
  readonly registry: Registry;
  readonly sessions: SessionManager;
  readonly membership: Membership;
}

/** The data-plane workers as the views see them (workers/supervisor.ts). */
export interface WorkersView {
  alive(): number;
  collectMetrics(scope: MetricsScope): Promise<unknown[]>;
}

export interface NodeViewsOptions {
  config: TunmeshConfig;
  self: LocalIdentity;
  startedAt: number;
  mesh: MeshParts;
  metrics: NodeMetrics;
  now: () => number;
  /** Whether the TUN device is up, running and carries our address (TunDevice.isUp). */
  tunUp: () => boolean;
  /** The workers, undefined until they fork (after the privilege drop) and after they stop. */
  workers: () => WorkersView | undefined;
  /** The path the data plane takes to a peer, and with which frames (node/data-plane.ts decides). */
  pathOf: (node: RemoteNode) => 'fast' | 'legacy';
  framesOf: (node: RemoteNode) => 1 | 2;
  /** TUN_F_* offloads the device took at open (0: none); they stay on whatever the peers. */
  offloads: number;
  /** The firewall in force; undefined: none. */
  firewall: { readonly rules: number; readonly hash: string } | undefined;
  peerCerts?: PeerCertBook;
}

export class NodeViews {
  private traffic: PeerTraffic = new Map();
  private readonly rates = new RateWindow();

  constructor(private readonly o: NodeViewsOptions) {}

  /** The workers' metrics, asked for now (a scrape: all; the traffic view: the per-peer series). */
  async workerSnapshots(scope: MetricsScope): Promise<unknown[]> {
    return (await this.o.workers()?.collectMetrics(scope)) ?? [];
  }

  health(): HealthReport {
    const now = this.o.now();
    return healthReport({
      now,
      startedAt: this.o.startedAt,
      startupGrace: this.o.config.process.timing.registrations.startupGrace,
      firstNode: this.o.config.health.firstNode,
      knownPeers: this.o.mesh.registry.size,
      bootstrapped: this.o.mesh.membership.bootstrapped,
      groomLoopAlive: this.o.mesh.membership.loopAlive(now),
      workersAlive: this.o.workers()?.alive() ?? 0,
      tunUp: this.o.tunUp(),
    });
  }

  status(): StatusReport {
    return statusReport({
      self: this.o.self,
      version: VERSION,
      startedAt: this.o.startedAt,
      now: this.o.now(),
      bootstrapped: this.o.mesh.membership.bootstrapped,
      ready: this.health().ready,
      workers: this.o.workers()?.alive() ?? 0,
      registry: this.o.mesh.registry,
      sessions: this.o.mesh.sessions,
      pathOf: this.o.pathOf,
      framesOf: this.o.framesOf,
      ...(this.o.offloads !== 0 ? { offloads: offloadNames(this.o.offloads) } : {}),
      ...(this.o.firewall !== undefined ? { firewall: { rules: this.o.firewall.rules, hash: this.o.firewall.hash } } : {}),
      traffic: this.traffic,
      rateOf: (peerId) => this.rates.rate(peerId),
      certOf: (peerId) => this.o.peerCerts?.get(peerId),
    });
  }

  /** Per-peer traffic for `tunmesh status`, summed over the processes (refreshed periodically). */
  async refreshTraffic(): Promise<void> {
    this.traffic = await this.o.metrics.peerTraffic(await this.workerSnapshots('traffic'));
    this.rates.add(this.o.now(), this.traffic);
  }

  /** tunmesh_peers: every state always has a series (0 included), so "no peers" is visible. */
  updatePeerGauge(): void {
    const counts: Record<string, number> = { up: 0, connecting: 0, failing: 0 };
    const now = this.o.now();
    for (const node of this.o.mesh.registry.all()) {
      const state = peerState(node, this.o.mesh.sessions.outbound.ageSeconds(node.info.id, now) !== undefined);
      counts[state] = (counts[state] ?? 0) + 1;
    }
    for (const [state, n] of Object.entries(counts)) this.o.metrics.peers.labels(state).set(n);
  }
}
