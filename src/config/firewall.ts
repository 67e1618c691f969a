/**
 * `tunmesh.firewall`: who may reach this node over the mesh, and whom it may reach (docs/security.md).
 *
 *   inbound:  [rule, ...]   packets from peers into this node; left out: every peer, every port
 *   outbound: [rule, ...]   packets from this node to peers; left out: everything
 *   conntrack: {tcp_timeout, udp_timeout}   how long an idle allowed flow's replies still pass
 *
 * A rule: `proto` (any, tcp, udp, icmp, icmpv6; default any), `port` (any, 5432 or "8000-8100";
 * default any; only with tcp, udp or any), `action` (allow or drop; default allow) and exactly one
 * selector of the peer: `host: any`, `group: web`, `groups: [web, canary]` (all of them),
 * `node: <node id>` or `cidr: 198.19.0.0/24` (mesh addresses; the only selector an original node,
 * which has no certificate groups, can match). Rules are judged in order, first match wins; a
 * packet no rule matches is dropped. An empty list denies the direction entirely.
 * convict knows a rule list only as "a list": each entry is checked here, problems named by path
 * (tunmesh/firewall/inbound/2/port).
 */
import type { ConfigProblem } from './errors.js';
import { isPlainObject, keyPath, showValue } from './shape.js';
import { tryParseIpv4Cidr } from '../tun/ipv4.js';
import { tryParseIpv6Cidr } from '../tun/ipv6.js';
import { GROUP_NAME } from '../security/groups.js';
import type { FirewallConfig, FirewallPorts, FirewallProto, FirewallRule, FirewallSelector } from './types.js';

const PROTOS: readonly FirewallProto[] = ['any', 'tcp', 'udp', 'icmp', 'icmpv6'];
const SELECTORS = ['host', 'group', 'groups', 'node', 'cidr'] as const;
const RULE_KEYS = ['proto', 'port', 'action', ...SELECTORS];
/** Node ids as identity.ts makes them (and the original: a UUID); kept to safe characters. */
const NODE_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const PORT_RANGE = /^(\d{1,5})(?:-(\d{1,5}))?$/;

export type FirewallRules = Pick<FirewallConfig, 'inbound' | 'outbound'>;

/** null when neither direction is configured: allow all, as the original does. */
export function firewallRules(raw: { inbound: unknown; outbound: unknown }, at: readonly string[], problems: ConfigProblem[]): FirewallRules | null {
  if ((raw.inbound ?? null) === null && (raw.outbound ?? null) === null) return null;
  return {
    inbound: ruleList(raw.inbound, [...at, 'inbound'], problems),
    outbound: ruleList(raw.outbound, [...at, 'outbound'], problems),
  };
}

function ruleList(value: unknown, at: string[], problems: ConfigProblem[]): FirewallRule[] | null {
  if (value === null || value === undefined) return null;
  if (!Array.isArray(value)) {
    problems.push({ path: keyPath(at), message: `must be a list of rules (or left out to allow everything), got ${showValue(value)}` });
    return [];
  }
  const rules: FirewallRule[] = [];
  value.forEach((entry, i) => {
    const rule = ruleOf(entry, [...at, String(i)], problems);
    if (rule !== null) rules.push(rule);
  });
  return rules;
}

function ruleOf(raw: unknown, at: string[], problems: ConfigProblem[]): FirewallRule | null {
  const before = problems.length;
  if (!isPlainObject(raw)) {
    problems.push({ path: keyPath(at), message: `must be a rule like {proto: tcp, port: 5432, group: web}, got ${showValue(raw)}` });
    return null;
  }
  for (const key of Object.keys(raw)) {
    if (!RULE_KEYS.includes(key)) problems.push({ path: keyPath([...at, key]), message: `unknown key (allowed here: ${RULE_KEYS.join(', ')})` });
  }
  const proto = protoOf(raw['proto'], [...at, 'proto'], problems);
  const ports = portsOf(raw['port'], proto, [...at, 'port'], problems);
  const action = actionOf(raw['action'], [...at, 'action'], problems);
  const selector = selectorOf(raw, at, problems);
  if (problems.length > before || selector === null) return null;
  return { path: keyPath(at), proto, ports, action, selector };
}

function protoOf(value: unknown, at: string[], problems: ConfigProblem[]): FirewallProto {
  if (value === undefined || value === null) return 'any';
  if (typeof value === 'string' && (PROTOS as readonly string[]).includes(value.toLowerCase())) return value.toLowerCase() as FirewallProto;
  problems.push({ path: keyPath(at), message: `must be one of ${PROTOS.join(', ')}, got ${showValue(value)}` });
  return 'any';
}

function portsOf(value: unknown, proto: FirewallProto, at: string[], problems: ConfigProblem[]): FirewallPorts | null {
  if (value === undefined || value === null || value === 'any' || value === 0) return null;
  const m = PORT_RANGE.exec(String(value).trim());
  const from = Number(m?.[1]);
  const to = m?.[2] === undefined ? from : Number(m[2]);
  if (m === null || (typeof value !== 'number' && typeof value !== 'string') || from < 1 || to > 65535 || from > to) {
    problems.push({ path: keyPath(at), message: `must be any, a port 1..65535 or a range like "8000-8100", got ${showValue(value)}` });
    return null;
  }
  if (proto === 'icmp' || proto === 'icmpv6') {
    problems.push({ path: keyPath(at), message: `${proto} has no ports: use port: any (or leave it out)` });
    return null;
  }
  return { from, to };
}

function actionOf(value: unknown, at: string[], problems: ConfigProblem[]): 'allow' | 'drop' {
  if (value === undefined || value === null || value === 'allow') return 'allow';
  if (value === 'drop') return 'drop';
  problems.push({ path: keyPath(at), message: `must be allow or drop, got ${showValue(value)}` });
  return 'allow';
}

function selectorOf(raw: Record<string, unknown>, at: string[], problems: ConfigProblem[]): FirewallSelector | null {
  const given = SELECTORS.filter((key) => raw[key] !== undefined);
  if (given.length !== 1) {
    const message = given.length === 0 ? 'names no peer' : `names the peer ${given.length} ways (${given.join(', ')})`;
    problems.push({ path: keyPath(at), message: `${message}: give exactly one of host: any, group, groups, node, cidr` });
    return null;
  }
  const key = given[0]!;
  const value = raw[key];
  const where = keyPath([...at, key]);
  if (key === 'host') return value === 'any' ? { kind: 'any' } : bad(problems, where, 'must be any (name one node with node: <id>)', value);
  if (key === 'group') return groupsSelector([value], where, problems);
  if (key === 'groups') return Array.isArray(value) && value.length > 0 ? groupsSelector(value, where, problems) : bad(problems, where, 'must be a non-empty list of group names', value);
  if (key === 'node') return typeof value === 'string' && NODE_ID.test(value) ? { kind: 'node', id: value } : bad(problems, where, 'must be a node id (as `tunmesh status` shows it)', value);
  return cidrSelector(value, where, problems);
}

function groupsSelector(values: unknown[], where: string, problems: ConfigProblem[]): FirewallSelector | null {
  const bad = values.find((g) => typeof g !== 'string' || !GROUP_NAME.test(g));
  if (bad !== undefined) {
    problems.push({ path: where, message: `group names are lowercase letters, digits, '.', '_' and '-' (as tunmesh certs node issue --group takes them), got ${showValue(bad)}` });
    return null;
  }
  return { kind: 'groups', groups: [...new Set(values as string[])].sort() };
}

function cidrSelector(value: unknown, where: string, problems: ConfigProblem[]): FirewallSelector | null {
  if (typeof value === 'string' && tryParseIpv4Cidr(value) !== null) return { kind: 'cidr', cidr: value, family: 4 };
  if (typeof value === 'string' && tryParseIpv6Cidr(value) !== null) return { kind: 'cidr', cidr: value, family: 6 };
  return bad(problems, where, 'must be a CIDR of mesh addresses like 198.19.0.0/24 or 2001:2:0:1::/64', value);
}

function bad(problems: ConfigProblem[], path: string, message: string, value: unknown): null {
  problems.push({ path, message: `${message}, got ${showValue(value)}` });
  return null;
}
