// Phase 4 of a node: the data plane, after the last root work.
//   1. watch the TLS and deny-list files and, with a firewall, the config file (before the drop:
//      the folders may be root's)
//   2. drop to the configured uid/gid
//   3. fork the data-plane workers (one per TUN queue); the channel port hands them its
//      connections from now on; main checks the upgrades they receive (channel-checks.ts)
//   4. publish what the workers and the main receive path route by, now and on every change of
//      the control plane (coalesced to one publication per tick)
// stop(): no more channel hand-offs and checks, the workers stopped (bounded), the watches closed.
import type { TunmeshConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import type { WorkerToMain } from '../dataplane/contract.js';
import { startWorkers, type Supervisor } from '../workers/supervisor.js';
import { watchFiles } from '../security/file-watch.js';
import { ChannelChecks } from './channel-checks.js';
import { peerTarget, type ControlPlane } from './control-plane.js';
import { coalesced, dataPlaneSettings, dataPlaneState, workerEntry } from './data-plane.js';
import { firewallPeers, reloadFirewall } from './firewall.js';
import { dropPrivileges } from './privileges.js';
import type { Boot } from './phase-boot.js';
import type { ControlPhase } from './phase-control.js';
import { startPhase, type StopStack, type Stoppable } from './stop-stack.js';

/** Bounded wait for the workers to exit on stop. */
const WORKER_STOP_MS = 5000;

export interface DataPhaseOptions {
  config: TunmeshConfig;
  log: Logger;
  boot: Boot;
  control: ControlPhase;
}

export interface DataPhase extends Stoppable {
  supervisor: Supervisor;
  /** Re-reads the firewall rules (SIGHUP, a config file change). */
  reloadRules(why: string): void;
}

export function startDataPlane(o: DataPhaseOptions): Promise<DataPhase> {
  const { config, log, boot, control } = o;
  return startPhase(log, async (steps) => {
    const reloadRules = (why: string): void => void reloadFirewall({ config, firewall: boot.firewall, log, metrics: boot.metrics.security, why });
    watchBeforeDrop(o, reloadRules, steps);
    if (dropPrivileges(config.process.uid, config.process.gid) === 'dropped') {
      log.info('dropped privileges', { component: 'node', uid: config.process.uid, gid: config.process.gid });
    }
    const supervisor = forkWorkers(o, steps);
    const publish = coalesced(() => {
      const state = dataPlaneState(config, boot.self.id, control.cp, boot.tun.vnetHeader);
      supervisor.publish(state);
      control.rx.setState(state);
      boot.firewall?.setPeers(firewallPeers(config, control.cp.registry, boot.security.peerCerts));
      control.views.updatePeerGauge();
    });
    control.changes.listen(publish);
    publish();
    return { supervisor, reloadRules };
  });
}

function watchBeforeDrop(o: DataPhaseOptions, reloadRules: (why: string) => void, steps: StopStack): void {
  const { config, log, boot } = o;
  boot.security.watchFiles();
  steps.push(() => boot.security.stop());
  if (boot.firewall !== null) {
    const watch = watchFiles([config.source], () => reloadRules('file change'), (dir, err) => log.warn('cannot watch the config folder for firewall rule changes; SIGHUP still reloads', { component: 'firewall', dir, error: err.message }));
    steps.push(() => watch.close());
  }
}

function forkWorkers(o: DataPhaseOptions, steps: StopStack): Supervisor {
  const { config, log, boot, control } = o;
  const { cp } = control;
  const supervisor = startWorkers({
    count: config.process.workers,
    queueFds: boot.tun.queueFds.slice(0, config.process.workers),
    settings: dataPlaneSettings(config, boot.security.tls, boot.self.tokenClaims, boot.tun.vnetHeader),
    ...workerEntry(),
    log,
    onMessage: (msg) => onWorkerMessage(cp, checks, msg),
  });
  const checks = new ChannelChecks({
    authenticate: async (header, peerId, cert) => cp.authenticator.authenticate(header, Buffer.alloc(0), 'session', peerId, boot.security.policy.judge(cert)),
    keyLive: control.keyLive,
    onRefused: control.onRefused,
    tell: (worker, msg) => supervisor.tell(worker, msg),
    broadcast: (msg) => supervisor.broadcast(msg),
    log,
  });
  boot.workers.fill(supervisor);
  steps.push(() => supervisor.stop(WORKER_STOP_MS));
  steps.push(() => {
    boot.workers.stopAccepting();
    checks.stop();
  });
  return supervisor;
}

/** A worker's upgrade to check; a worker's peer refused our session: renegotiate (publication follows the new key). */
function onWorkerMessage(cp: ControlPlane, checks: ChannelChecks, msg: WorkerToMain): void {
  if (msg.type === 'upgrade_check') return checks.check(msg);
  if (msg.type !== 'session_rejected') return;
  const node = cp.registry.get(msg.peerId);
  cp.sessions.outboundRejected(msg.peerId, msg.sessionId);
  if (node) void cp.sessions.outboundKey(peerTarget(node)).catch(() => undefined);
}
