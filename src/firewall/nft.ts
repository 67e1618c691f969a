// A Ruleset as an nftables script: one table per TUN device, replaced whole in one transaction
// when the rules change, its address sets alone when the peers do (counters and tracked flows
// stay). The kernel does the per-packet work:
//   - conntrack: replies to allowed flows pass (`ct state established,related`); TCP and UDP
//     idle timeouts from the config (`ct timeout` objects); ICMP and ICMPv6 flows (echo ids)
//     keep the kernel's timeout (30 s), nft has no timeout policy for them;
//   - fragments: conntrack reassembles before the rules run (nf_defrag), so a rule judges whole
//     datagrams and a later fragment can never slip past a port rule;
//   - super-packets (GSO, TUN offloads) are one skb: judged once by their headers;
//   - the chains hook input (packets tunmesh wrote into the TUN, from any path: fast channels
//     in workers, channels on the API port, the original's JSON) and output (packets leaving
//     for the TUN, before tunmesh reads them) and look only at the mesh device.
// Everything rendered is checked first (checkRuleset): the privileged keeper renders what main
// sends, so nothing but addresses, ports and names from a fixed alphabet reaches nft.
import { isIP } from 'node:net';
import { tryParseIpv4Cidr } from '../tun/ipv4.js';
import { tryParseIpv6Cidr } from '../tun/ipv6.js';
import { DEFAULT_RULE, type Direction, type ResolvedRule, type Ruleset } from './ruleset.js';

export class RulesetError extends Error {
  override readonly name = 'RulesetError';
}

const DEVICE = /^[A-Za-z0-9_.-]{1,15}$/;
const RULE_NAME = /^(in|out)_\d{1,5}$/;
const PROTOS = new Set(['any', 'tcp', 'udp', 'icmp', 'icmpv6']);
const L4 = { tcp: 'tcp', udp: 'udp', icmp: 'icmp', icmpv6: 'ipv6-icmp' } as const;

/** The table of a device: `inet tunmesh_tun1`. */
export function tableOf(device: string): string {
  return `inet tunmesh_${device.replace(/[^A-Za-z0-9_]/g, '_')}`;
}

/** The whole table, replacing any earlier one atomically (`table X` + `delete table X` also works when none exists). */
export function renderTable(rs: Ruleset): string {
  checkRuleset(rs);
  const t = tableOf(rs.device);
  const lines = [`table ${t}`, `delete table ${t}`, `table ${t} {`, ...timeouts(rs), ...declarations(rs), ...conntrackChains(rs)];
  if (rs.inbound !== null) lines.push(...chain('inbound', rs.inbound, rs.device));
  if (rs.outbound !== null) lines.push(...chain('outbound', rs.outbound, rs.device));
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

/** Only the address sets (peers came or went): counters and tracked flows are untouched. */
export function renderSets(rs: Ruleset): string {
  checkRuleset(rs);
  const t = tableOf(rs.device);
  const lines: string[] = [];
  for (const rule of [...(rs.inbound ?? []), ...(rs.outbound ?? [])]) {
    if (rule.match.kind !== 'set') continue;
    for (const [family, addresses] of [['v4', rule.match.v4], ['v6', rule.match.v6]] as const) {
      lines.push(`flush set ${t} ${rule.name}_${family}`);
      if (addresses.length > 0) lines.push(`add element ${t} ${rule.name}_${family} { ${addresses.join(', ')} }`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** Removes the table (the node stops, or the rules were taken out of the config). */
export function renderRemoval(device: string): string {
  if (!DEVICE.test(device)) throw new RulesetError(`bad device name ${JSON.stringify(device)}`);
  const t = tableOf(device);
  return `table ${t}\ndelete table ${t}\n`;
}

function timeouts(rs: Ruleset): string[] {
  return [
    `  ct timeout tcp_flows { protocol tcp; l3proto inet; policy = { established: ${rs.tcpTimeout} }; }`,
    `  ct timeout udp_flows { protocol udp; l3proto inet; policy = { unreplied: ${rs.udpTimeout}, replied: ${rs.udpTimeout} }; }`,
  ];
}

function declarations(rs: Ruleset): string[] {
  const lines: string[] = [];
  for (const direction of ['inbound', 'outbound'] as const) {
    const rules = rs[direction];
    if (rules === null) continue;
    lines.push(`  counter ${DEFAULT_RULE[direction]} { }`);
    for (const rule of rules) {
      lines.push(`  counter ${rule.name} { }`);
      if (rule.match.kind !== 'set') continue;
      lines.push(setDeclaration(`${rule.name}_v4`, 'ipv4_addr', rule.match.v4), setDeclaration(`${rule.name}_v6`, 'ipv6_addr', rule.match.v6));
    }
  }
  return lines;
}

function setDeclaration(name: string, type: string, elements: readonly string[]): string {
  const content = elements.length > 0 ? ` elements = { ${elements.join(', ')} };` : '';
  return `  set ${name} { type ${type};${content} }`;
}

/** New flows on the mesh device get the configured idle timeouts (before conntrack sees them: priority raw). */
function conntrackChains(rs: Ruleset): string[] {
  const dev = JSON.stringify(rs.device);
  const set = ['meta l4proto tcp ct timeout set "tcp_flows"', 'meta l4proto udp ct timeout set "udp_flows"'];
  return [
    '  chain timeouts_in {',
    '    type filter hook prerouting priority raw; policy accept;',
    `    iifname != ${dev} return`,
    ...set.map((s) => `    ${s}`),
    '  }',
    '  chain timeouts_out {',
    '    type filter hook output priority raw; policy accept;',
    `    oifname != ${dev} return`,
    ...set.map((s) => `    ${s}`),
    '  }',
  ];
}

function chain(direction: Direction, rules: readonly ResolvedRule[], device: string): string[] {
  const hook = direction === 'inbound' ? 'input' : 'output';
  const dev = `${direction === 'inbound' ? 'iifname' : 'oifname'} != ${JSON.stringify(device)}`;
  return [
    `  chain ${direction} {`,
    `    type filter hook ${hook} priority filter; policy accept;`,
    `    ${dev} accept`,
    '    ct state established,related accept',
    ...rules.flatMap((rule) => ruleLines(direction, rule)).map((l) => `    ${l}`),
    `    counter name ${DEFAULT_RULE[direction]} drop`,
    '  }',
  ];
}

/** One configured rule: one line, or two when it matches an address set (one per family). */
function ruleLines(direction: Direction, rule: ResolvedRule): string[] {
  const verdict = `counter name ${rule.name} ${rule.action === 'allow' ? 'accept' : 'drop'}`;
  const l4 = [protoMatch(rule), portMatch(rule)].filter((s) => s !== '').join(' ');
  const side = direction === 'inbound' ? 'saddr' : 'daddr';
  const join = (...parts: string[]): string => parts.filter((s) => s !== '').join(' ');
  const m = rule.match;
  if (m.kind === 'any') return [join(l4, verdict)];
  if (m.kind === 'cidr') return [join(`${m.family === 4 ? 'ip' : 'ip6'} ${side} ${m.cidr}`, l4, verdict)];
  return [join(`ip ${side} @${rule.name}_v4`, l4, verdict), join(`ip6 ${side} @${rule.name}_v6`, l4, verdict)];
}

function protoMatch(rule: ResolvedRule): string {
  if (rule.proto !== 'any') return `meta l4proto ${L4[rule.proto]}`;
  return rule.ports === null ? '' : 'meta l4proto { tcp, udp }';
}

function portMatch(rule: ResolvedRule): string {
  if (rule.ports === null) return '';
  const ports = rule.ports.from === rule.ports.to ? String(rule.ports.from) : `${rule.ports.from}-${rule.ports.to}`;
  return `${rule.proto === 'any' ? 'th' : rule.proto} dport ${ports}`;
}

/** Refuses anything that is not plainly an address, a port, a timeout or a known word. */
export function checkRuleset(rs: Ruleset): void {
  if (!DEVICE.test(rs.device)) throw new RulesetError(`bad device name ${JSON.stringify(rs.device)}`);
  for (const t of [rs.tcpTimeout, rs.udpTimeout]) if (!Number.isInteger(t) || t < 1 || t > 432000) throw new RulesetError(`bad timeout ${t}`);
  for (const rule of [...(rs.inbound ?? []), ...(rs.outbound ?? [])]) checkRule(rule);
}

function checkRule(rule: ResolvedRule): void {
  const bad = (what: string): never => {
    throw new RulesetError(`rule ${JSON.stringify(rule.name)}: bad ${what}`);
  };
  if (!RULE_NAME.test(rule.name)) bad('name');
  if (!PROTOS.has(rule.proto)) bad('protocol');
  if (rule.action !== 'allow' && rule.action !== 'drop') bad('action');
  const p = rule.ports;
  if (p !== null && !(Number.isInteger(p.from) && Number.isInteger(p.to) && p.from >= 1 && p.from <= p.to && p.to <= 65535)) bad('ports');
  const m = rule.match;
  if (m.kind === 'cidr' && (m.family === 4 ? tryParseIpv4Cidr(m.cidr) : tryParseIpv6Cidr(m.cidr)) === null) bad('cidr');
  if (m.kind === 'set' && (m.v4.some((a) => isIP(a) !== 4) || m.v6.some((a) => isIP(a) !== 6))) bad('address');
}

/** Packets per counter from `nft -j list counters table ...`. */
export function parseCounters(json: string): Map<string, number> {
  const out = new Map<string, number>();
  const doc = JSON.parse(json) as { nftables?: Array<{ counter?: { name?: unknown; packets?: unknown } }> };
  for (const item of doc.nftables ?? []) {
    const c = item.counter;
    if (c !== undefined && typeof c.name === 'string' && typeof c.packets === 'number') out.set(c.name, c.packets);
  }
  return out;
}
