// nebula (slackhq/nebula) as a peer scenario of the bench: a CA and two host certificates made
// with `nebula-cert`, one `nebula` process in each namespace, a static host map over the veth
// (no lighthouse), mesh 198.19.3.1/24 <-> 198.19.3.2/24. Nebula 1.6 carries IPv4 only inside
// the tunnel, so this scenario has no IPv6 mesh addresses. Its files live in a temporary folder
// under the bench's folder, removed when the tunnel stops.
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { stringify } from 'yaml';
import { run, waitFor } from '../lab/netns.js';
import { errorMessage } from '../log/error-message.js';
import { UNDERLAY, stopProcess, type Side, type Tunnel, type VethPair } from './topology.js';

export const NEBULA_MESH = ['198.19.3.1', '198.19.3.2'] as const;
const NEBULA_PREFIX = 24;
/** The CA may only sign addresses of the bench's mesh range. */
const NEBULA_CA_NETWORK = '198.19.0.0/16';
export const NEBULA_PORT = 4242;
/** nebula's own default tunnel MTU, written out so the config says it. */
export const NEBULA_MTU = 1300;

export class NebulaError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NebulaError';
  }
}

export interface NebulaHostSpec {
  caPath: string;
  certPath: string;
  keyPath: string;
  /** This host's underlay address: nebula listens there. */
  listenAddress: string;
  /** The other host: its mesh address and underlay address. */
  peerMeshAddress: string;
  peerUnderlayAddress: string;
  port: number;
  device: string;
  mtu: number;
}

/** nebula's config for one host: static host map, no lighthouse, punching off, firewall open. */
export function nebulaConfigYaml(s: NebulaHostSpec): string {
  const any = [{ port: 'any', proto: 'any', host: 'any' }];
  return stringify({
    pki: { ca: s.caPath, cert: s.certPath, key: s.keyPath },
    static_host_map: { [s.peerMeshAddress]: [`${s.peerUnderlayAddress}:${s.port}`] },
    lighthouse: { am_lighthouse: false, interval: 60, hosts: [] },
    listen: { host: s.listenAddress, port: s.port },
    punchy: { punch: false },
    relay: { am_relay: false, use_relays: false },
    tun: { disabled: false, dev: s.device, mtu: s.mtu },
    logging: { level: 'warning', format: 'text' },
    firewall: { outbound: any, inbound: any },
  });
}

interface NebulaFiles {
  dir: string;
  configs: [string, string];
  logs: [string, string];
}

/** `nebula-cert ca` and `nebula-cert sign` for both hosts, and each host's config. */
async function writeNebulaFiles(parent: string, devices: readonly [string, string]): Promise<NebulaFiles> {
  const dir = mkdtempSync(join(parent, 'nebula-'));
  try {
    return await writeNebulaFilesIn(dir, devices);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw new NebulaError(`nebula certificates or config: ${errorMessage(err)}`, { cause: err });
  }
}

async function writeNebulaFilesIn(dir: string, devices: readonly [string, string]): Promise<NebulaFiles> {
  const ca = join(dir, 'ca.crt');
  const caKey = join(dir, 'ca.key');
  await run('nebula-cert', ['ca', '-name', 'tunmesh-bench', '-ips', NEBULA_CA_NETWORK, '-duration', '2h', '-out-crt', ca, '-out-key', caKey]);
  const configs: string[] = [];
  for (const side of [0, 1] as const) {
    const cert = join(dir, `host-${side}.crt`);
    const key = join(dir, `host-${side}.key`);
    await run('nebula-cert', ['sign', '-ca-crt', ca, '-ca-key', caKey, '-name', `bench-${side}`, '-ip', `${NEBULA_MESH[side]}/${NEBULA_PREFIX}`, '-out-crt', cert, '-out-key', key]);
    const other = (1 - side) as Side;
    const config = join(dir, `host-${side}.yaml`);
    const spec: NebulaHostSpec = {
      caPath: ca,
      certPath: cert,
      keyPath: key,
      listenAddress: UNDERLAY[side],
      peerMeshAddress: NEBULA_MESH[other],
      peerUnderlayAddress: UNDERLAY[other],
      port: NEBULA_PORT,
      device: devices[side],
      mtu: NEBULA_MTU,
    };
    writeFileSync(config, nebulaConfigYaml(spec), { mode: 0o600 });
    configs.push(config);
  }
  return { dir, configs: configs as [string, string], logs: [join(dir, 'host-0.log'), join(dir, 'host-1.log')] };
}

function logTails(logs: readonly string[]): string {
  return logs.map((l) => (existsSync(l) ? readFileSync(l, 'utf8').slice(-600) : '')).join('\n---\n');
}

function spawnNebula(pair: VethPair, side: Side, config: string, log: string): ChildProcess {
  const fd = openSync(log, 'a');
  try {
    return pair.spawn(side, 'nebula', ['-config', config], { stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
}

/** Waits (bounded) for both TUN devices, then for a ping to cross (the first one triggers the handshake). */
async function waitForNebula(pair: VethPair, procs: readonly ChildProcess[], devices: readonly [string, string], files: NebulaFiles, timeoutMs: number): Promise<void> {
  const exited = (): void => {
    for (const c of procs) if (c.exitCode !== null || c.signalCode !== null) throw new NebulaError(`nebula exited: ${logTails(files.logs)}`);
  };
  for (const side of [0, 1] as const) {
    await waitFor(
      async () => {
        exited();
        return (await pair.exec(side, 'ip', ['link', 'show', 'dev', devices[side]], 3000, false)).code === 0;
      },
      { timeoutMs, intervalMs: 100, what: `nebula device ${devices[side]}` },
    );
  }
  await waitFor(
    async () => {
      exited();
      return (await pair.exec(0, 'ping', ['-n', '-c', '1', '-W', '1', NEBULA_MESH[1]], 5000, false)).code === 0;
    },
    { timeoutMs, intervalMs: 200, what: 'pings across nebula' },
  );
}

/** `nebula -version` -> "1.6.1". */
export async function nebulaVersion(): Promise<string> {
  const r = await run('nebula', ['-version'], { timeoutMs: 5000, check: false });
  return /Version:\s*(\S+)/.exec(r.stdout + r.stderr)?.[1] ?? 'unknown';
}

/** nebula in each namespace (spawned, tracked by PID), peers over the veth. */
export async function startNebula(pair: VethPair, dir: string, suffix: string, timeoutMs: number): Promise<Tunnel> {
  const devices = [`nb${suffix}a`, `nb${suffix}b`] as const;
  const files = await writeNebulaFiles(dir, devices);
  const procs: ChildProcess[] = [];
  const stop = async (): Promise<void> => {
    await Promise.all(procs.map((c) => (c.pid === undefined ? undefined : stopProcess(c.pid, 5000))));
    rmSync(files.dir, { recursive: true, force: true });
  };
  try {
    for (const side of [0, 1] as const) procs.push(spawnNebula(pair, side, files.configs[side], files.logs[side]));
    await waitForNebula(pair, procs, devices, files, timeoutMs);
  } catch (err) {
    const logs = logTails(files.logs);
    await stop();
    if (err instanceof NebulaError) throw err;
    throw new NebulaError(`nebula did not come up: ${errorMessage(err)}\n${logs}`, { cause: err });
  }
  const version = await nebulaVersion();
  return {
    addresses: NEBULA_MESH,
    addresses6: null,
    pids: () => procs.map((c) => c.pid).filter((p): p is number => p !== undefined),
    memoryPids: () => procs.flatMap((c, side) => (c.pid === undefined ? [] : [{ side: side as Side, role: 'main' as const, pid: c.pid }])),
    describe: () => Promise.resolve(`nebula ${version}, MTU ${NEBULA_MTU}, static host map, no lighthouse`),
    stop,
  };
}
