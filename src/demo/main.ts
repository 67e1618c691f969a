// `npm run demo`: a real 3-node tunmesh mesh on this machine, in network namespaces.
//   1. check we can (root, /dev/net/tun, ip, ping)
//   2. namespaces on a bridge; certificate (src/certs, as `tunmesh certs`) and cluster secret generated into a temp folder
//   3. three `tunmesh run` processes; wait (bounded, with progress) for the full mesh
//   4. ping every pair; bulk TCP through the mesh with its checksum checked at the far end
//   5. a status table; then tear everything down (or, with --keep, say how to)
import { accessSync, constants, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { MeshLab } from '../lab/mesh-lab.js';
import { pingFrom, uniquePrefix } from '../lab/netns.js';
import { formatStatus } from '../cli/status-command.js';
import { errorMessage } from '../log/error-message.js';

/** Longer than the node's housekeeping period (node/run.ts: at most 5 s). */
const STATUS_REFRESH_WAIT_MS = 5500;

const NODES = 3;
const TRANSFER_BYTES = 8 * 1024 * 1024;

const say = (s: string): void => void process.stdout.write(s + '\n');

function preflight(): string | undefined {
  if (process.getuid?.() !== 0) return 'the demo creates network namespaces and TUN devices: run it as root (sudo npm run demo)';
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
  } catch {
    return '/dev/net/tun is missing or not accessible (in a container: --device /dev/net/tun --cap-add NET_ADMIN)';
  }
  for (const tool of ['ip', 'ping']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `'${tool}' is not installed (Debian: apt-get install iproute2 iputils-ping)`;
    }
  }
  return undefined;
}

async function pingMatrix(mesh: MeshLab): Promise<string[]> {
  const lines: string[] = [];
  for (const a of mesh.nodes) {
    for (const b of mesh.nodes) {
      if (a === b) continue;
      const r = await pingFrom(a.ns, b.meshAddress, { count: 5, intervalS: 0.2, timeoutS: 2 });
      const rtt = /= [\d.]+\/([\d.]+)\//.exec(r.output)?.[1] ?? '-';
      lines.push(`  node${a.index} ${a.meshAddress} -> node${b.index} ${b.meshAddress}: ${r.received}/${r.transmitted} replies, avg RTT ${rtt} ms`);
      if (!r.ok) throw new Error(`ping node${a.index} -> node${b.index} lost packets:\n${r.output}`);
    }
  }
  return lines;
}

async function demo(keep: boolean): Promise<number> {
  const problem = preflight();
  if (problem) {
    process.stderr.write(`demo: ${problem}\n`);
    return 2;
  }
  say(`[1/5] creating ${NODES} network namespaces on a bridge (underlay 198.18.0.x, mesh 198.19.0.x) and test credentials`);
  const mesh = await MeshLab.create({ tag: uniquePrefix('tmdemo'), nodes: NODES, logLevel: 'info' });
  let ok = false;
  try {
    say(`      work folder ${mesh.dir} (configs, certificate, node logs)`);
    say(`[2/5] starting ${NODES} tunmesh nodes (each bootstraps from node0)`);
    await mesh.startAll();
    let last = -1;
    const ms = await mesh.waitForFullMesh(60_000, undefined, (up, want) => {
      if (up !== last) say(`      links up: ${up}/${want}`);
      last = up;
    });
    say(`      full mesh in ${(ms / 1000).toFixed(1)} s`);
    say('[3/5] ping between every pair of nodes through the mesh');
    for (const line of await pingMatrix(mesh)) say(line);
    say(`[4/5] bulk TCP: ${TRANSFER_BYTES / 1024 / 1024} MiB from node0 to node1 and node2 to node0`);
    for (const [from, to] of [[0, 1], [2, 0]] as const) {
      const t = await mesh.transfer(from, to, TRANSFER_BYTES);
      say(`  node${from} -> node${to}: ${t.bytes} bytes in ${t.seconds.toFixed(2)} s = ${t.mbps.toFixed(1)} Mbit/s, checksum ${t.intact ? 'intact' : 'MISMATCH'}`);
      if (!t.intact) throw new Error('the far end received different bytes');
    }
    say('[5/5] status (tunmesh status --socket <node socket>)');
    // The status view asks the workers for their counters at each housekeeping round (every
    // groom interval, at most 5 s): let the last transfer's reach it.
    await new Promise((r) => setTimeout(r, STATUS_REFRESH_WAIT_MS));
    for (const n of mesh.nodes) say(formatStatus(await mesh.status(n.index)));
    ok = true;
  } catch (err) {
    process.stderr.write(`demo failed: ${errorMessage(err)}\n(node logs: ${mesh.dir})\n`);
  } finally {
    if (keep && ok) printKeep(mesh);
    else {
      say('tearing down: stopping nodes, deleting namespaces');
      await mesh.cleanup(!ok);
    }
  }
  return ok ? 0 : 1;
}

function printKeep(mesh: MeshLab): void {
  const pids = mesh.nodes.map((n) => n.process?.child.pid).filter((p): p is number => p !== undefined);
  const stop = join(mesh.dir, 'stop.sh');
  const namespaces = [...mesh.nodes.map((n) => n.ns), mesh.lab.bridgeNs];
  writeFileSync(stop, `#!/bin/sh\nkill -TERM ${pids.join(' ')} 2>/dev/null\nsleep 3\n${namespaces.map((ns) => `ip netns del ${ns} 2>/dev/null`).join('\n')}\nrm -rf ${mesh.dir}\n`, { mode: 0o755 });
  say('--keep: the mesh is still running.');
  for (const n of mesh.nodes) {
    const next = mesh.node((n.index + 1) % mesh.nodes.length);
    say(`  node${n.index}: ip netns exec ${n.ns} ping ${next.meshAddress}   status: node dist/cli/main.js status --socket ${n.statusSocket}`);
  }
  say(`stop it with: sh ${stop}`);
  mesh.detach();
  process.exit(0);
}

const args = process.argv.slice(2);
if (args.some((a) => a !== '--keep')) {
  process.stderr.write('usage: npm run demo [-- --keep]\n');
  process.exit(2);
}
demo(args.includes('--keep')).then((code) => process.exit(code));
