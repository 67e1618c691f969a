// Read-only views of a running node, shared by /health, /metrics, the status socket and the
// peers gauge. Workers appear once the supervisor is attached (after the privilege drop).
import type { TunmeshConfig } from '../config/types.js';
import type { HealthReport } from '../api/contract.js';
import type { LocalIdentity } from '../mesh/identity.js';
import type { NodeMetrics } from '../metrics/node.js';
import type { Supervisor } from '../workers/supervisor.js';
import type { ControlPlane } from './control-plane.js';
import { framesOf, pathOf } from './data-plane.js';
import { offloadNames } from '../tun/vnet.js';
import { OFFLOAD_VERSION } from '../mesh/capabilities.js';
import { healthReport } from './health.js';
import { peerState, statusReport, type StatusReport } from './status.js';
import { VERSION } from '../version.js';
import { RateWindow, type PeerTraffic } from './rates.js';
import type { PeerCertBook } from '../security/peer-certs.js';

export interface NodeViewsOptions {
  config: TunmeshConfig;
  self: LocalIdentity;
  startedAt: number;
  cp: ControlPlane;
  metrics: NodeMetrics;
  now: () => number;
  /** Whether the TUN device is up, running and carries our address (TunDevice.isUp). */
  tunUp: () => boolean;
  peerCerts?: PeerCertBook;
}

export class NodeViews {
  supervisor: Supervisor | undefined;
  /** TUN_F_* offloads the device took at open (0: none); they stay on whatever the peers. */
  offloads = 0;
  /** The firewall in force (node/run.ts sets it once started); undefined: none. */
  firewall: { readonly rules: number; readonly hash: string } | undefined;
  private traffic: PeerTraffic = new Map();
  private readonly rates = new RateWindow();

  constructor(private readonly o: NodeViewsOptions) {}

  workerSnapshots(): unknown[] {
    return this.supervisor?.collectMetrics() ?? [];
  }

  health(): HealthReport {
    const now = this.o.now();
    return healthReport({
      now,
      startedAt: this.o.startedAt,
      startupGrace: this.o.config.process.timing.registrations.startupGrace,
      firstNode: this.o.config.health.firstNode,
      knownPeers: this.o.cp.registry.size,
      bootstrapped: this.o.cp.membership.bootstrapped,
      groomLoopAlive: this.o.cp.membership.loopAlive(now),
      workersAlive: this.supervisor?.alive() ?? 0,
      tunUp: this.o.tunUp(),
    });
  }

  status(): StatusReport {
    return statusReport({
      self: this.o.self,
      version: VERSION,
      startedAt: this.o.startedAt,
      now: this.o.now(),
      bootstrapped: this.o.cp.membership.bootstrapped,
      ready: this.health().ready,
      workers: this.supervisor?.alive() ?? 0,
      registry: this.o.cp.registry,
      sessions: this.o.cp.sessions,
      pathOf: (n) => pathOf(this.o.config, n),
      framesOf: (n) => framesOf(this.o.config, n, this.o.self.capabilities.offload === OFFLOAD_VERSION),
      ...(this.offloads !== 0 ? { offloads: offloadNames(this.offloads) } : {}),
      ...(this.firewall !== undefined ? { firewall: { rules: this.firewall.rules, hash: this.firewall.hash } } : {}),
      traffic: this.traffic,
      rateOf: (peerId) => this.rates.rate(peerId),
      certOf: (peerId) => this.o.peerCerts?.get(peerId),
    });
  }

  /** Per-peer traffic for `tunmesh status`, summed over the processes (refreshed periodically). */
  async refreshTraffic(): Promise<void> {
    this.traffic = await this.o.metrics.peerTraffic(this.workerSnapshots());
    this.rates.add(this.o.now(), this.traffic);
  }

  /** tunmesh_peers: every state always has a series (0 included), so "no peers" is visible. */
  updatePeerGauge(): void {
    const counts: Record<string, number> = { up: 0, connecting: 0, failing: 0 };
    const now = this.o.now();
    for (const node of this.o.cp.registry.all()) {
      const state = peerState(node, this.o.cp.sessions.outbound.ageSeconds(node.info.id, now) !== undefined);
      counts[state] = (counts[state] ?? 0) + 1;
    }
    for (const [state, n] of Object.entries(counts)) this.o.metrics.peers.labels(state).set(n);
  }
}
