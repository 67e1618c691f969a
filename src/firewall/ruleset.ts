// What the kernel is asked to enforce: the configured rules with every peer selector turned into
// addresses (a group or a node id means the mesh addresses of the peers that match it now).
// Plain data: main builds it (resolve.ts), the privileged keeper checks and renders it (nft.ts).
import type { FirewallPorts, FirewallProto } from '../config/types.js';

export type Direction = 'inbound' | 'outbound';

/** Whom a resolved rule matches: any peer, a CIDR, or a set of addresses (one per family). */
export type ResolvedMatch =
  | { kind: 'any' }
  | { kind: 'cidr'; family: 4 | 6; cidr: string }
  | { kind: 'set'; v4: string[]; v6: string[] };

export interface ResolvedRule {
  /** nft counter and set name: in_0, out_3 (safe characters only). */
  name: string;
  /** Where it was configured (tunmesh/firewall/inbound/0): the rule label of the metrics. */
  path: string;
  proto: FirewallProto;
  ports: FirewallPorts | null;
  action: 'allow' | 'drop';
  match: ResolvedMatch;
}

export interface Ruleset {
  /** The TUN device the rules apply to (only mesh traffic is judged). */
  device: string;
  /** null: the direction allows everything (no chain for it). */
  inbound: ResolvedRule[] | null;
  outbound: ResolvedRule[] | null;
  tcpTimeout: number;
  udpTimeout: number;
}

/** The counter of packets no rule matched, per direction (dropped). */
export const DEFAULT_RULE = { inbound: 'in_default', outbound: 'out_default' } as const;
