// From configured rules to a Ruleset: each selector becomes the addresses of the peers it names
// now. Groups come only from a peer's verified client certificate (the caller passes null for a
// peer without one), so a group rule never matches a peer that merely claims something.
import type { FirewallConfig, FirewallRule, FirewallSelector } from '../config/types.js';
import type { Direction, ResolvedMatch, ResolvedRule, Ruleset } from './ruleset.js';

export interface FirewallPeer {
  id: string;
  /** Mesh addresses without prefix. */
  address4: string;
  address6: string | null;
  /** From its verified certificate; null: none known (an original node, or mutual TLS off). */
  groups: readonly string[] | null;
}

export function resolveRuleset(device: string, fw: FirewallConfig, peers: readonly FirewallPeer[]): Ruleset {
  return {
    device,
    inbound: resolveList('inbound', fw.inbound, peers),
    outbound: resolveList('outbound', fw.outbound, peers),
    tcpTimeout: Math.round(fw.conntrack.tcpTimeout),
    udpTimeout: Math.round(fw.conntrack.udpTimeout),
  };
}

function resolveList(direction: Direction, rules: readonly FirewallRule[] | null, peers: readonly FirewallPeer[]): ResolvedRule[] | null {
  if (rules === null) return null;
  const prefix = direction === 'inbound' ? 'in' : 'out';
  return rules.map((rule, i) => ({
    name: `${prefix}_${i}`,
    path: rule.path,
    proto: rule.proto,
    ports: rule.ports,
    action: rule.action,
    match: matchOf(rule.selector, peers),
  }));
}

function matchOf(selector: FirewallSelector, peers: readonly FirewallPeer[]): ResolvedMatch {
  if (selector.kind === 'any') return { kind: 'any' };
  if (selector.kind === 'cidr') return { kind: 'cidr', family: selector.family, cidr: selector.cidr };
  const chosen = peers.filter((p) => selects(selector, p));
  return {
    kind: 'set',
    v4: [...new Set(chosen.map((p) => p.address4))].sort(),
    v6: [...new Set(chosen.flatMap((p) => (p.address6 === null ? [] : [p.address6])))].sort(),
  };
}

function selects(selector: FirewallSelector, peer: FirewallPeer): boolean {
  if (selector.kind === 'node') return peer.id === selector.id;
  if (selector.kind !== 'groups') return false;
  const groups = peer.groups;
  return groups !== null && selector.groups.every((g) => groups.includes(g));
}
