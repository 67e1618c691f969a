// `tunmesh status`: ask a running node over its local status socket and print a table.
import http from 'node:http';
import type { StatusReport } from '../status/report.js';
import type { CommandIo } from './config-command.js';
import { errorMessage } from '../log/error-message.js';

const DEFAULT_SOCKET = '/run/tunmesh/status.sock';

export function fetchStatus(socketPath: string): Promise<StatusReport> {
  return new Promise((resolve, reject) => {
    const req = http.get({ socketPath, path: '/status', timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as StatusReport);
        } catch {
          reject(new Error('the node answered with something that is not JSON'));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

function human(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = bytes;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

function certExpiry(notAfter: number | null | undefined): string {
  if (notAfter === null || notAfter === undefined) return '-';
  const days = Math.floor((notAfter - Date.now() / 1000) / 86400);
  return `${new Date(notAfter * 1000).toISOString().slice(0, 10)} (${days}d)`;
}

export function formatStatus(s: StatusReport): string {
  const lines = [
    `node ${s.id}  ${s.address}${s.address6 ? `  ${s.address6}` : ''}  ${s.url}  v${s.version}`,
    `up ${s.uptimeSeconds}s  bootstrapped=${s.bootstrapped}  ready=${s.ready}  workers=${s.workers}  peers=${s.peers.length}`,
    ...(s.offloads ? [`TUN offloads: ${s.offloads.join(',')}`] : []),
    ...(s.firewall ? [`firewall: ${s.firewall.rules} rules in force (hash ${s.firewall.hash})`] : []),
    ...(s.channelPort ? [`channel port: ${s.channelPort} (fast channels received in the workers)`] : []),
    '',
  ];
  // The IPV6 column only where IPv6 is in use: an IPv4 mesh (every original mesh) keeps its table.
  const ipv6 = Boolean(s.address6) || s.peers.some((p) => p.address6);
  const header = ['PEER', 'ADDRESS', ...(ipv6 ? ['IPV6'] : []), 'STATE', 'PATH', 'SESSION AGE', 'HEARD', 'REG RTT', 'CHANNELS', 'TX PKTS', 'TX', 'TX/s', 'RX PKTS', 'RX', 'RX/s'];
  const rows = s.peers.map((p) => [
    p.id.slice(0, 8),
    p.address,
    ...(ipv6 ? [p.address6 ?? '-'] : []),
    p.state,
    p.offload === true ? `${p.path}+offload` : p.path,
    p.outboundSessionAgeSeconds === null ? '-' : `${p.outboundSessionAgeSeconds}s`,
    `${p.lastHeardSecondsAgo}s ago`,
    p.registrationRttMs === null ? '-' : `${p.registrationRttMs} ms`,
    `${p.channelsUp}/${s.workers}`,
    String(p.txPackets),
    human(p.txBytes),
    `${human(p.txBytesPerSecond)}/s`,
    String(p.rxPackets),
    human(p.rxBytes),
    `${human(p.rxBytesPerSecond)}/s`,
  ]);
  // Peers' client certificates appear when mutual TLS is on (a short fingerprint and the days left).
  if (s.peers.some((p) => p.certFingerprint)) {
    header.push('CERT', 'CERT EXPIRES');
    s.peers.forEach((p, k) => rows[k]?.push(p.certFingerprint ? p.certFingerprint.slice(0, 16) : '-', certExpiry(p.certNotAfter)));
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i] as number)).join('  ').trimEnd();
  lines.push(fmt(header), ...rows.map(fmt));
  if (s.peers.length === 0) lines.push('(no peers yet)');
  return lines.join('\n') + '\n';
}

export async function statusCommand(args: string[], io: CommandIo): Promise<number> {
  let json = false;
  let socket = process.env.TUNMESH_STATUS_SOCKET || DEFAULT_SOCKET;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--json') json = true;
    else if (a === '--socket' && args[i + 1]) socket = args[++i] as string;
    else {
      io.stderr(`tunmesh status: unknown option '${a}'\n`);
      return 2;
    }
  }
  let status: StatusReport;
  try {
    status = await fetchStatus(socket);
  } catch (err) {
    io.stderr(`tunmesh status: cannot reach the node at ${socket}: ${errorMessage(err)}\n(is it running? pass --socket PATH if tunmesh.status_socket is set)\n`);
    return 1;
  }
  io.stdout(json ? JSON.stringify(status, null, 2) + '\n' : formatStatus(status));
  return 0;
}
