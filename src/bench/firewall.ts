// `npm run bench -- --firewall`: what tunmesh.firewall costs. Two tunmesh nodes with the default
// config (workers by CPU quota, offloads auto) on the bench's veth pair, three ways, alternated
// over rounds so drift on a noisy machine hits each alike:
//   none   no firewall block (no nftables table, no connection tracking);
//   1      one rule, `host: any` (the table and connection tracking, nothing to search);
//   100    99 rules that never match (tcp ports of a group no peer has) before `host: any`: a new
//          flow walks all of them; later packets pass at `ct state established`.
// Each: single-stream TCP (iperf3), sockperf TCP ping-pong p50/p99 (64 B, round trips) and idle
// ping (50 ms apart). The added cost per round trip is the p50 difference; a round trip is two
// packets, each judged on its way out of one node and into the other.
import { errorMessage } from '../log/error-message.js';
import type { LabCredentials } from '../lab/certs.js';
import { iperf } from './iperf.js';
import { sockperfPingPong, startSockperfServers } from './sockperf.js';
import { idlePing, warmUp } from './latency.js';
import { fmt, median, parseIperfTcp, renderTable } from './stats.js';
import { startTunmesh, type Tunnel, type VethPair } from './topology.js';

export type FirewallVariant = 'none' | '1' | '100';
export const FIREWALL_VARIANTS: readonly FirewallVariant[] = ['none', '1', '100'];

export interface FirewallBenchOptions {
  rounds: number;
  tcpSeconds: number;
  pingPongSeconds: number;
  pings: number;
}

export interface FirewallSample {
  variant: FirewallVariant;
  round: number;
  config: string;
  tcpMbps: number;
  ppP50Us: number;
  ppP99Us: number;
  pingMs: number;
}

/** The tunmesh.firewall block of a variant (both nodes alike). */
export function firewallBlock(variant: FirewallVariant): Record<string, unknown> | undefined {
  if (variant === 'none') return undefined;
  const misses = variant === '100' ? Array.from({ length: 99 }, (_, k) => ({ proto: 'tcp', port: 20000 + k, group: 'nobody' })) : [];
  const rules = [...misses, { host: 'any' }];
  return { inbound: rules, outbound: rules };
}

async function measureOne(pair: VethPair, tunnel: Tunnel, o: FirewallBenchOptions): Promise<Omit<FirewallSample, 'variant' | 'round' | 'config'>> {
  const target = tunnel.addresses[1];
  await warmUp(pair, target);
  const tcp = parseIperfTcp(await iperf(pair, target, [], o.tcpSeconds));
  const servers = await startSockperfServers(pair, target, 10_000);
  let pp;
  try {
    pp = await sockperfPingPong(pair, target, { tcp: true, seconds: o.pingPongSeconds, size: 64 });
  } finally {
    await servers.stop();
  }
  const ping = await idlePing(pair, target, o.pings);
  return { tcpMbps: tcp.bitsPerSecond / 1e6, ppP50Us: pp.p50Us, ppP99Us: pp.p99Us, pingMs: ping.medianMs };
}

/** Every variant in every round; a variant that fails is reported and skipped in that round. */
export async function runFirewallBench(pair: VethPair, dir: string, creds: LabCredentials, o: FirewallBenchOptions, progress: (msg: string) => void): Promise<FirewallSample[]> {
  const samples: FirewallSample[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    for (const variant of FIREWALL_VARIANTS) {
      progress(`firewall ${variant} rules, round ${round}/${o.rounds}`);
      let tunnel: Tunnel | null = null;
      try {
        const firewall = firewallBlock(variant);
        tunnel = await startTunmesh(pair, dir, creds, { fastPath: true, workers: 0, tag: `fw-${variant}-${round}`, timeoutMs: 30_000, ...(firewall ? { firewall } : {}) });
        const config = await tunnel.describe();
        samples.push({ variant, round, config, ...(await measureOne(pair, tunnel, o)) });
      } catch (err) {
        progress(`firewall ${variant}: FAILED: ${errorMessage(err)}`);
      } finally {
        await tunnel?.stop();
      }
    }
  }
  return samples;
}

/** Medians over the rounds, and each variant against `none` of the same run. */
export function firewallTable(samples: readonly FirewallSample[]): string {
  const of = (v: FirewallVariant): FirewallSample[] => samples.filter((s) => s.variant === v);
  const med = (v: FirewallVariant, f: (s: FirewallSample) => number): number | null => (of(v).length === 0 ? null : median(of(v).map(f)));
  const base = { tcp: med('none', (s) => s.tcpMbps), p50: med('none', (s) => s.ppP50Us) };
  const head = ['rules', 'rounds', 'TCP Mbit/s', 'TCP vs none', 'pp p50 us', 'pp p99 us', 'added us / round trip', 'added us / packet', 'idle ping ms'];
  const body = FIREWALL_VARIANTS.map((v) => {
    const tcp = med(v, (s) => s.tcpMbps);
    const p50 = med(v, (s) => s.ppP50Us);
    const added = p50 === null || base.p50 === null ? null : p50 - base.p50;
    return [
      v,
      String(of(v).length),
      fmt(tcp, 0),
      tcp === null || base.tcp === null ? 'n/a' : `${fmt((100 * (tcp - base.tcp)) / base.tcp, 1)} %`,
      fmt(p50, 1),
      fmt(med(v, (s) => s.ppP99Us), 1),
      fmt(added, 1),
      fmt(added === null ? null : added / 2, 1),
      fmt(med(v, (s) => s.pingMs), 3),
    ];
  });
  return renderTable([head, ...body]);
}
