// One tunmesh node: the main process, as a sequence of phases, each a function that takes its
// options, starts its part and returns its resources with a stop(). Start-up order matters
// (root work first):
//   1. boot as root (phase-boot.ts): identity, metrics, TLS material and deny list, RSA key pair,
//      TUN device, firewall rules, channel port
//   2. control plane (phase-control.ts): registry, sessions, peer client, membership,
//      authenticator; the main receive path, HTTPS API, status views and socket
//   3. with an allocated address, the claim (phase-claim.ts): join the mesh and hold the claim
//      window, still privileged, so that a node that must move can start again at its next choice
//   4. data plane (phase-data.ts): watch files, drop privileges, fork the workers, publish state
//   5. serve: membership (when the claim did not start it), housekeeping, TLS and deny-list reloads
// stop() stops the phases in reverse, each of them its own steps in reverse, each step bounded;
// a phase that fails stops what it started, and the phases before it are stopped the same way.
import type https from 'node:https';
import type { TunmeshConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { serverContextOptions } from '../security/tls-contexts.js';
import { nowSeconds as now } from '../auth/clock.js';
import { errorMessage } from '../log/error-message.js';
import type { AddressInUse } from '../mesh/address-claim.js';
import type { Supervisor } from '../workers/supervisor.js';
import type { StatusReport } from '../status/report.js';
import { peerTarget, type ControlPlane } from './control-plane.js';
import { dataPlaneSettings } from './data-plane.js';
import { firewallPeers } from './firewall.js';
import type { SecurityAppliers } from './security.js';
import { bootAsRoot, type Boot } from './phase-boot.js';
import { startControlPlane } from './phase-control.js';
import { claimAddress } from './phase-claim.js';
import { startDataPlane } from './phase-data.js';
import { StopStack, type Stoppable } from './stop-stack.js';

export interface StartHooks {
  /** After the claim window, our allocated address turned out held by a node that keeps it. */
  addressLost?(err: AddressInUse): void;
  /** Aborted (SIGTERM during start-up): a claim window still open ends the start (StartAborted). */
  signal?: AbortSignal;
}

export interface RunningNode {
  id: string;
  stop(): Promise<void>;
  status(): StatusReport;
  /** SIGHUP: re-read the TLS material, the deny list and the firewall rules. */
  reload(): void;
}

export async function startNode(config: TunmeshConfig, log: Logger, hooks: StartHooks = {}): Promise<RunningNode> {
  const startedAt = now();
  const phases = new StopStack(log);
  try {
    const boot = phases.adopt(await bootAsRoot({ config, log, startedAt }));
    const control = phases.adopt(await startControlPlane({ config, log, boot, startedAt }));
    const claiming = config.networking.ipv4.allocationSeed !== null;
    if (claiming) phases.adopt(await claimAddress({ config, log, boot, control, addressLost: (err) => hooks.addressLost?.(err), signal: hooks.signal }));
    const data = phases.adopt(await startDataPlane({ config, log, boot, control }));
    if (!claiming) phases.adopt(startMembership(control.cp));
    phases.adopt(startHousekeeping({ config, log, boot, cp: control.cp, refreshTraffic: () => control.views.refreshTraffic() }));
    boot.security.start(securityAppliers({ config, boot, cp: control.cp, server: control.server, supervisor: data.supervisor }));
    const stop = async (): Promise<void> => {
      log.info('stopping node', { component: 'node', id: boot.self.id });
      await phases.stop();
      log.info('node stopped', { component: 'node', id: boot.self.id });
    };
    const reload = (): void => {
      boot.security.reload('SIGHUP');
      data.reloadRules('SIGHUP');
    };
    return { id: boot.self.id, status: () => control.views.status(), stop, reload };
  } catch (err) {
    await phases.stop();
    throw err;
  }
}

/** Membership of a node without an allocated address starts once its data plane runs. */
function startMembership(cp: ControlPlane): Stoppable {
  cp.membership.start();
  return { stop: async () => cp.membership.stop() };
}

interface HousekeepingOptions {
  config: TunmeshConfig;
  log: Logger;
  boot: Boot;
  cp: ControlPlane;
  refreshTraffic: () => Promise<void>;
}

/** Session rotation and the status traffic view, every few seconds. */
function startHousekeeping(o: HousekeepingOptions): Stoppable {
  const { config, log, boot, cp } = o;
  const timer = setInterval(
    () => {
      void cp.sessions.rotateDue(cp.registry.all().map(peerTarget)).catch((err) => log.warn('rotation failed', { component: 'auth', error: errorMessage(err) }));
      void o.refreshTraffic();
      // A peer's certificate (its groups) is recorded at its first authenticated request, which may follow its registration.
      boot.firewall?.setPeers(firewallPeers(config, cp.registry, boot.security.peerCerts));
    },
    Math.max(1, Math.min(boot.timing.groomInterval, 5)) * 1000,
  );
  return { stop: async () => clearInterval(timer) };
}

interface AppliersOptions {
  config: TunmeshConfig;
  boot: Boot;
  cp: ControlPlane;
  server: https.Server;
  supervisor: Supervisor;
}

/** Reloaded TLS material goes to new connections everywhere; a changed deny list grooms whom it denies. */
function securityAppliers(o: AppliersOptions): SecurityAppliers {
  const { boot, cp } = o;
  return {
    tls: (bundle) => {
      o.server.setSecureContext(serverContextOptions(bundle, bundle.ca));
      cp.http.setTls({ ca: bundle.ca, cert: bundle.cert, key: bundle.key });
      o.supervisor.updateSettings(dataPlaneSettings(o.config, bundle, boot.self.tokenClaims, boot.tun.vnetHeader));
    },
    deny: () => {
      for (const node of cp.registry.all()) {
        if (boot.security.refusesNode(node.info.id)) cp.registry.remove(node.info.id, 'denied');
      }
    },
  };
}
