// /health over the node's real views: a real control plane (registry, membership loop, sessions)
// built as a node builds it, a real supervisor with a stand-in worker process, and each of the
// original's components made to fail in turn by what it stands for. The TUN device itself is
// covered by the node integration test (a device set down), which needs root and a namespace.
import { expect } from 'chai';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { parse } from 'yaml';
import { generateNodeKeyPair } from '../../src/auth/index.js';
import { nowSeconds } from '../../src/auth/clock.js';
import { configFromObject } from '../../src/config/load.js';
import type { TunmeshConfig } from '../../src/config/types.js';
import { makeLabPki } from '../../src/lab/pki.js';
import { QUICK_TIMING, labNodeConfigYaml, labNodeUrl } from '../../src/lab/node-config.js';
import { createLogger } from '../../src/log/logger.js';
import { createIdentity } from '../../src/mesh/identity.js';
import { NodeMetrics } from '../../src/metrics/node.js';
import { buildControlPlane, type ControlPlane } from '../../src/node/control-plane.js';
import { dataPlaneSettings, peerPaths } from '../../src/node/data-plane.js';
import { NodeSecurity } from '../../src/node/security.js';
import { meshTiming } from '../../src/node/settings.js';
import { NodeViews } from '../../src/status/views.js';
import { startWorkers, type Supervisor } from '../../src/workers/supervisor.js';
import { VERSION } from '../../src/version.js';

const quiet = createLogger('error', 'json', new Writable({ write: (_c, _e, cb) => cb() }));
/** A worker that only keeps its IPC channel open: what the supervisor watches is the process. */
const STAND_IN_WORKER = "process.on('message', () => undefined); process.on('disconnect', () => process.exit(0));\n";

/** The lab's config for one node that bootstraps from itself alone (no request leaves), with a startup grace. */
function oneNodeConfig(dir: string, certPath: string, keyPath: string): TunmeshConfig {
  const yaml = labNodeConfigYaml({
    index: 0, underlayAddress: '127.0.0.1', meshAddressCidr: '198.19.0.1/24', networkCidr: '198.19.0.0/24',
    bootstrapUrls: [labNodeUrl('127.0.0.1', 4567)], port: 4567, certPath, keyPath, secret: 'a'.repeat(43),
    statusSocket: join(dir, 'status.sock'), device: 'tmhv0', workers: 1, fastPath: true, logLevel: 'error',
    timing: QUICK_TIMING, firstNode: false,
  });
  const raw = parse(yaml) as { tun_mesh: { process: { timing: { registrations: Record<string, unknown> } } } };
  // In its grace, alone counts as registered: every component can be true at once.
  raw.tun_mesh.process.timing.registrations.startup_grace = 3600;
  return configFromObject(raw);
}

async function waitUntil(what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('/health components fed by real checks', function () {
  this.timeout(30_000);
  let dir: string;
  let clock: number;
  let tunUp = true;
  let cp: ControlPlane;
  let supervisor: Supervisor;
  let views: NodeViews;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tunmesh-health-views-'));
    const pki = await makeLabPki(dir);
    const leaf = await pki.issue('n0', ['127.0.0.1']);
    const config = oneNodeConfig(dir, leaf.certPath, leaf.keyPath);
    clock = nowSeconds();
    const self = createIdentity({ listenUrl: config.clustering.controlApiAdvertiseUrl, networkCidr: '198.19.0.0/24', nodeAddressCidr: '198.19.0.1/24', fastPath: true });
    const metrics = new NodeMetrics({ nodeId: self.id, version: VERSION, baseLabels: {}, perPeerLegacy: false, startStamp: Math.floor(clock) });
    const security = new NodeSecurity(config, quiet, metrics.security);
    const keyPair = await generateNodeKeyPair(config.clustering.auth.pubKeySize);
    const now = (): number => clock;
    cp = buildControlPlane({ config, self, keyPair, caPem: security.tls.ca, security, metrics, timing: meshTiming(config), log: quiet, now, onChange: () => undefined });
    const entry = join(dir, 'worker.mjs');
    writeFileSync(entry, STAND_IN_WORKER);
    supervisor = startWorkers({ count: 1, queueFds: [0], settings: dataPlaneSettings(config, security.tls, self.tokenClaims), entry, log: quiet });
    views = new NodeViews({
      config,
      self,
      startedAt: clock,
      mesh: cp,
      metrics,
      now,
      tunUp: () => tunUp,
      workers: () => supervisor,
      ...peerPaths(config, self),
      offloads: 0,
      firewall: undefined,
      peerCerts: security.peerCerts,
    });
    cp.membership.start();
    await waitUntil('the worker to run', () => supervisor.pids()[0] !== undefined);
  });

  after(async () => {
    cp.membership.stop();
    cp.http.close();
    await supervisor.stop(2000);
    rmSync(dir, { recursive: true, force: true });
  });

  it('is healthy and live with the loop ticking, the worker running and the TUN up', () => {
    const h = views.health();
    expect(h.components).to.deep.equal({
      monitoring: { tun_monitor_worker: true },
      registrations: { registered: true, worker: true },
      router: { read_pipe_thread: true, heartbeat_thread: true, tun: true },
    });
    expect(h.healthy && h.live).to.equal(true);
  });

  it('reports router.tun false while the TUN device is not up', () => {
    tunUp = false;
    const h = views.health();
    tunUp = true;
    expect(h.components.router).to.deep.equal({ read_pipe_thread: true, heartbeat_thread: true, tun: false });
    expect(h.healthy || h.live).to.equal(false);
    expect(views.health().healthy).to.equal(true);
  });

  it('reports the registrations worker and heartbeat thread false when the membership loop has not ticked for 10 s', () => {
    clock += 11;
    const stale = views.health();
    clock -= 11;
    expect(stale.components.registrations.worker).to.equal(false);
    expect(stale.components.router.heartbeat_thread).to.equal(false);
    expect(stale.healthy || stale.live).to.equal(false);
    expect(views.health().healthy).to.equal(true);
  });

  it('reports the TUN monitor and read-pipe thread false while the worker is down, true once restarted', async () => {
    const pid = supervisor.pids()[0] as number;
    process.kill(pid, 'SIGKILL');
    await waitUntil('the supervisor to see the worker gone', () => supervisor.pids()[0] === undefined);
    const down = views.health();
    expect(down.components.monitoring.tun_monitor_worker).to.equal(false);
    expect(down.components.router.read_pipe_thread).to.equal(false);
    expect(down.healthy || down.live).to.equal(false);
    await waitUntil('the worker to be restarted', () => (supervisor.pids()[0] ?? pid) !== pid);
    expect(views.health().healthy).to.equal(true);
  });

  it('reports the registrations worker and heartbeat thread false once the loop stopped', () => {
    cp.membership.stop();
    const h = views.health();
    expect(h.components.registrations.worker).to.equal(false);
    expect(h.components.router.heartbeat_thread).to.equal(false);
    expect(h.healthy || h.live).to.equal(false);
  });
});
