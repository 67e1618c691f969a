// One real node started from a config in the original's exact format (the reference's YAML,
// with real certificate paths), in its own namespace: TLS versions, /health, SIGTERM; and the
// real CLI's exit codes on bad input.
import { expect } from 'chai';
import { readFileSync, writeFileSync, mkdtempSync, rmSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { createNetns, deleteNetns, execInNetns, spawnInNetns, uniquePrefix, waitFor, ProcessOutput, killPid } from '../helpers/netns.js';
import { makeLabCredentials } from '../../src/lab/certs.js';
import { FIXTURE_DIR, makeTlsDir, materialize } from '../fixtures/configs/fixtures.js';
import { MAX_RESTARTS } from '../../src/workers/supervisor.js';

const CLI = 'dist/cli/main.js';
const run = promisify(execFile);

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { timeout: 20_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('a node started from a config in the original format', function () {
  this.timeout(90_000);
  const ns = `${uniquePrefix('tmn')}-n0`;
  let dir: string;
  let node: ProcessOutput | undefined;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tunmesh-node-test-'));
    const creds = await makeLabCredentials(dir);
    const config = readFileSync(join(FIXTURE_DIR, 'reference-v0.7.yaml'), 'utf8').replaceAll('@CERT@', creds.certPath).replaceAll('@KEY@', creds.keyPath);
    writeFileSync(join(dir, 'config.yaml'), config);
    await createNetns(ns);
    // The reference advertises https://198.18.1.1:4567; its bootstrap peer 198.18.1.2 stays absent.
    await execInNetns(ns, 'ip', ['link', 'add', 'u0', 'type', 'veth', 'peer', 'name', 'u1']);
    await execInNetns(ns, 'ip', ['addr', 'add', '198.18.1.1/24', 'dev', 'u0']);
    await execInNetns(ns, 'ip', ['link', 'set', 'u0', 'up']);
    await execInNetns(ns, 'ip', ['link', 'set', 'u1', 'up']);
    await execInNetns(ns, 'ip', ['link', 'set', 'lo', 'up']);
    node = new ProcessOutput(
      spawnInNetns(ns, process.execPath, [CLI, 'run', '--config', join(dir, 'config.yaml')], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, TUNMESH_STATUS_SOCKET: join(dir, 'status.sock') },
      }),
    );
    await waitFor(async () => (await execInNetns(ns, 'curl', ['-sk', '--max-time', '2', 'https://198.18.1.1:4567/health/live'], { check: false })).code === 0, {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: 'the node to serve /health/live',
    });
  });

  after(async () => {
    if (node?.child.pid && !node.exited) killPid(node.child.pid);
    await deleteNetns(ns).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the original /health JSON over TLS', async () => {
    const r = await execInNetns(ns, 'curl', ['-sk', '-w', '\n%{http_code}', 'https://198.18.1.1:4567/health'], { check: false });
    const [body, status] = r.stdout.split('\n');
    // Alone, with its bootstrap peer absent and no startup grace, it is not "registered": 503.
    expect(status).to.equal('503');
    const health = JSON.parse(body as string) as Record<string, Record<string, boolean>>;
    expect(Object.keys(health)).to.have.members(['monitoring', 'registrations', 'router']);
    expect(health.registrations?.registered).to.equal(false);
    expect(health.router?.tun).to.equal(true);
  });

  it('refuses a TLS 1.1 client and serves TLS 1.2 and 1.3 clients', async () => {
    const handshake = async (flag: string) =>
      // stdin from /dev/null: s_client handshakes, prints, and quits.
      execInNetns(ns, 'sh', ['-c', `openssl s_client ${flag} -cipher 'DEFAULT@SECLEVEL=0' -connect 198.18.1.1:4567 -brief < /dev/null`], {
        check: false,
        timeoutMs: 10_000,
      });
    const v11 = await handshake('-tls1_1');
    expect(v11.code, v11.stdout + v11.stderr).to.not.equal(0);
    expect(v11.stdout + v11.stderr).to.match(/alert|protocol version|no protocols available|unsupported protocol/i);
    for (const flag of ['-tls1_2', '-tls1_3']) {
      const ok = await handshake(flag);
      expect(ok.stdout + ok.stderr, flag).to.match(/Protocol version: TLSv1\.[23]/);
    }
  });

  const health = async (path: string): Promise<{ status: string; components: Record<string, Record<string, boolean>> }> => {
    const r = await execInNetns(ns, 'curl', ['-sk', '--max-time', '5', '-w', '\n%{http_code}', `https://198.18.1.1:4567${path}`], { check: false });
    const [body, status] = r.stdout.split('\n');
    return { status: status ?? '', components: path === '/health' ? (JSON.parse(body as string) as Record<string, Record<string, boolean>>) : {} };
  };

  it('reports router.tun false and is not live while its TUN device is down, and recovers once it is up', async () => {
    await execInNetns(ns, 'ip', ['link', 'set', 'dev', 'tun1', 'down']);
    try {
      expect((await health('/health')).components.router?.tun).to.equal(false);
      expect((await health('/health/live')).status).to.equal('503');
    } finally {
      await execInNetns(ns, 'ip', ['link', 'set', 'dev', 'tun1', 'up']);
    }
    expect((await health('/health')).components.router?.tun).to.equal(true);
    expect((await health('/health/live')).status).to.equal('200');
  });

  it('reports its TUN monitor and read-pipe thread false once a worker killed by PID is no longer restarted', async () => {
    // One kill is masked within ~0.1 s (the supervisor restarts the worker); past MAX_RESTARTS
    // in its window the supervisor leaves it down, and /health must say so once no worker is
    // left. Every worker is killed each round: how many there are depends on the machine's CPUs.
    const workers = (): number[] => {
      const r = spawnSync('pgrep', ['-P', String(node?.child.pid)], { encoding: 'utf8' });
      return r.stdout.trim().split('\n').filter(Boolean).map(Number);
    };
    for (let round = 0; round <= MAX_RESTARTS; round++) {
      const victims = workers();
      expect(victims.length, `worker processes before round ${round + 1}`).to.be.greaterThan(0);
      for (const pid of victims) killPid(pid, 'SIGKILL');
      if (round < MAX_RESTARTS) await waitFor(() => workers().filter((p) => !victims.includes(p)).length === victims.length || undefined, { timeoutMs: 10_000, what: `restart ${round + 1}` });
    }
    await waitFor(async () => (await health('/health')).components.monitoring?.tun_monitor_worker === false || undefined, {
      timeoutMs: 5_000,
      intervalMs: 100,
      what: '/health to report the worker down',
    });
    const down = await health('/health');
    expect(down.status).to.equal('503');
    expect(down.components.router?.read_pipe_thread).to.equal(false);
    expect((await health('/health/live')).status).to.equal('503');
  });

  it('exits 0 on SIGTERM and the TUN device is gone', async () => {
    killPid(node?.child.pid as number, 'SIGTERM');
    expect(await node?.waitForExit(15_000)).to.equal(0);
    const r = await execInNetns(ns, 'ip', ['link', 'show', 'tun1'], { check: false });
    expect(r.code).to.not.equal(0);
    expect(node?.stderr).to.match(/node stopped/);
  });
});

describe('the tunmesh command line', function () {
  this.timeout(120_000);

  it('exits 2 with a message naming the key for every bad config, never a stack trace', async () => {
    const tls = makeTlsDir();
    const bad = readdirSync(FIXTURE_DIR).filter((f) => f.startsWith('bad-'));
    expect(bad.length).to.be.at.least(10);
    for (const file of bad) {
      const path = materialize(file, tls);
      for (const args of [['config', 'check', path], ['run', '--config', path]]) {
        const r = await cli(args);
        expect(r.code, `${args.join(' ')}: ${r.stderr}`).to.equal(2);
        expect(r.stderr, file).to.match(/tun_mesh\/|tunmesh\/|config|yaml|file/i);
        expect(r.stderr, file).to.not.match(/\n\s+at /);
      }
    }
    rmSync(tls.dir, { recursive: true, force: true });
  });

  it('answers --version and --help with 0, and usage errors with 2', async () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    expect((await cli(['--version'])).stdout.trim()).to.equal(pkg.version);
    const help = await cli(['--help']);
    expect(help.code).to.equal(0);
    expect(help.stdout).to.match(/tunmesh run/);
    expect((await cli(['frobnicate'])).code).to.equal(2);
    expect((await cli(['run', '--bogus'])).code).to.equal(2);
  });

  it('says CAP_NET_ADMIN is missing, with exit 1 and no stack trace, when it cannot create the TUN', async () => {
    const ns = `${uniquePrefix('tmc')}-n0`;
    const dir = mkdtempSync(join(tmpdir(), 'tunmesh-cap-test-'));
    try {
      const creds = await makeLabCredentials(dir);
      const config = readFileSync(join(FIXTURE_DIR, 'reference-v0.7.yaml'), 'utf8').replaceAll('@CERT@', creds.certPath).replaceAll('@KEY@', creds.keyPath);
      writeFileSync(join(dir, 'config.yaml'), config);
      await createNetns(ns);
      // Root, but with every capability dropped: what a container without NET_ADMIN sees.
      const r = await execInNetns(ns, 'setpriv', ['--inh-caps=-all', '--bounding-set=-all', process.execPath, CLI, 'run', '--config', join(dir, 'config.yaml')], {
        check: false,
        timeoutMs: 30_000,
      });
      expect(r.code).to.equal(1);
      expect(r.stderr).to.match(/cannot start: cannot create TUN device tun1.*CAP_NET_ADMIN/);
      expect(r.stderr).to.not.match(/\n\s+at /);
    } finally {
      await deleteNetns(ns).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a missing config file with exit 2', async () => {
    const r = await cli(['run', '--config', '/nonexistent/tunmesh.yaml']);
    expect(r.code).to.equal(2);
    expect(r.stderr).to.match(/nonexistent/);
  });
});
