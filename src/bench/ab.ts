// A/B of two tunmesh builds on this noisy machine: `node dist/bench/ab.js [--rounds N] [--pings N]
// [--tcp] [--offload | --gro] A B`, as root, where A and B are build directories (a copy of dist/ kept beside it, e.g.
// `cp -r dist dist-base` before a change, then `npm run build`), each optionally followed by
// `@NAME=VALUE` environment settings for that build's nodes (`dist@GLIBC_TUNABLES=...`).
// One veth pair; per round each build in turn (A B, then B A, ...): its two nodes come up (fast
// path, one worker; no offloads, or with `--offload` TUN offloads on both, with `--gro` on the
// receiving node B only: A sends plain packets, B merges them, offload/coalesce.ts), a 20 000-packet flood-ping warm-up, `--pings` pings at 20 ms,
// with `--tcp` a 3 s single-stream iperf3 run, then the nodes stop. Prints each round and the
// median of the round medians per build: the builds see the same background load, which a
// comparison of two separate `npm run bench` runs does not give.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { uniquePrefix, ProcessOutput } from '../lab/netns.js';
import { makeLabCredentials } from '../lab/certs.js';
import { median, parseIperfTcp, parsePingTimes, percentile } from './stats.js';
import { UNDERLAY, VethPair } from './topology.js';

type Topology = typeof import('./topology.js');

interface Variant {
  label: string;
  topology: Topology;
  env: Record<string, string>;
  rtt: number[];
  tcp: number[];
}

interface AbOptions {
  rounds: number;
  pings: number;
  tcp: boolean;
  builds: string[];
  /** TUN offloads of node A (the iperf3 client) and node B. */
  offload: readonly ['on' | 'off', 'on' | 'off'];
}

const USAGE = 'usage: node dist/bench/ab.js [--rounds N] [--pings N] [--tcp] [--offload | --gro] BUILD_A[@NAME=VALUE...] BUILD_B[@NAME=VALUE...]';

function parseArgs(argv: string[]): AbOptions {
  const o: AbOptions = { rounds: 3, pings: 300, tcp: false, builds: [], offload: ['off', 'off'] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--rounds') o.rounds = Number(argv[++i]);
    else if (a === '--pings') o.pings = Number(argv[++i]);
    else if (a === '--tcp') o.tcp = true;
    else if (a === '--offload') o.offload = ['on', 'on'];
    else if (a === '--gro') o.offload = ['off', 'on'];
    else if (a.startsWith('--')) throw new Error(USAGE);
    else o.builds.push(a);
  }
  if (o.builds.length !== 2 || !Number.isInteger(o.rounds) || o.rounds < 1 || !Number.isInteger(o.pings) || o.pings < 10) throw new Error(USAGE);
  return o;
}

async function loadVariant(spec: string): Promise<Variant> {
  const [dir, ...settings] = spec.split('@');
  const env: Record<string, string> = {};
  for (const s of settings) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new Error(`not NAME=VALUE: ${s}`);
    env[s.slice(0, eq)] = s.slice(eq + 1);
  }
  // Each build's topology.js starts that build's cli/main.js (CLI is relative to the module).
  const topology = (await import(pathToFileURL(join(resolve(dir!), 'bench', 'topology.js')).href)) as Topology;
  return { label: spec, topology, env, rtt: [], tcp: [] };
}

async function iperfTcp(pair: VethPair, server: string): Promise<number> {
  const srv = new ProcessOutput(pair.spawn(1, 'iperf3', ['-s', '-1', '--forceflush', '-B', server, '-p', '5201'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  try {
    await srv.waitForLine(/listening/i, { timeoutMs: 10_000, what: 'iperf3 server' });
    const r = await pair.exec(0, 'iperf3', ['-c', server, '-p', '5201', '-J', '--connect-timeout', '5000', '-t', '3'], 40_000, false);
    return parseIperfTcp(r.stdout).bitsPerSecond / 1e6;
  } finally {
    if (srv.child.pid !== undefined && !srv.exited) {
      await srv.waitForExit(3000).catch(() => {
        if (srv.child.pid !== undefined) process.kill(srv.child.pid, 'SIGKILL');
      });
    }
  }
}

async function round(pair: VethPair, dir: string, creds: Awaited<ReturnType<typeof makeLabCredentials>>, v: Variant, tag: string, o: AbOptions): Promise<string> {
  const saved = { ...process.env };
  Object.assign(process.env, v.env); // inherited by the nodes spawned now
  let tunnel;
  try {
    tunnel = await v.topology.startTunmesh(pair, dir, creds, { fastPath: true, offload: o.offload, workers: 1, tag, timeoutMs: 30_000 });
  } finally {
    for (const k of Object.keys(v.env)) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
  try {
    const target = tunnel.addresses[1];
    await pair.exec(0, 'ping', ['-n', '-q', '-f', '-c', '20000', '-w', '4', target], 15_000, false);
    const deadline = Math.ceil(o.pings * 0.02 + 5);
    const p = await pair.exec(0, 'ping', ['-n', '-c', String(o.pings), '-i', '0.02', '-W', '1', '-w', String(deadline), target], (deadline + 5) * 1000, false);
    const times = parsePingTimes(p.stdout);
    v.rtt.push(median(times));
    let line = `RTT median ${median(times).toFixed(3)} ms, p99 ${percentile(times, 99).toFixed(3)}, above 3 ms ${times.filter((t) => t > 3).length}/${times.length}`;
    if (o.tcp) {
      const mbit = await iperfTcp(pair, target);
      v.tcp.push(mbit);
      line += `, TCP ${mbit.toFixed(0)} Mbit/s`;
    }
    return line;
  } finally {
    await tunnel.stop();
  }
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0) throw new Error('must run as root (namespaces)');
  const variants = await Promise.all(o.builds.map(loadVariant));
  const dir = mkdtempSync(join(tmpdir(), 'tunmesh-ab-'));
  const pair = await VethPair.create(uniquePrefix('ab'));
  const abort = (sig: string): void => {
    console.error(`\nab: ${sig}, cleaning up`);
    pair.killAll();
    rmSync(dir, { recursive: true, force: true });
    process.exit(130); // netns.ts's exit hook deletes the namespaces
  };
  process.once('SIGINT', abort);
  process.once('SIGTERM', abort);
  // A hard bound on the whole run, whatever hangs: a round takes well under a minute.
  setTimeout(() => abort('SIGALRM'), (60 + o.rounds * 2 * 90) * 1000).unref();
  try {
    const creds = await makeLabCredentials(dir);
    const veth = parsePingTimes((await pair.exec(0, 'ping', ['-n', '-c', '100', '-i', '0.02', '-W', '1', UNDERLAY[1]], 20_000, false)).stdout);
    console.log(`veth RTT median ${median(veth).toFixed(3)} ms`);
    for (let r = 0; r < o.rounds; r++) {
      const order = r % 2 === 0 ? variants : [...variants].reverse();
      for (const [i, v] of order.entries()) console.log(`round ${r} ${v.label}: ${await round(pair, dir, creds, v, `ab${r}${i}`, o)}`);
    }
    for (const v of variants) {
      const tcp = v.tcp.length > 0 ? `; TCP ${v.tcp.map((x) => x.toFixed(0)).join(' ')}, median ${median(v.tcp).toFixed(0)} Mbit/s` : '';
      console.log(`${v.label}: RTT round medians ${v.rtt.map((x) => x.toFixed(3)).join(' ')}, median ${median(v.rtt).toFixed(3)} ms${tcp}`);
    }
  } finally {
    await pair.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
  return 0;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === resolve(new URL(import.meta.url).pathname)) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`ab: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
