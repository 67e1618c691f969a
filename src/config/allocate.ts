// tunmesh.networking.ipv4.allocate: the node picks its own mesh address from network_cidr, so
// every pod of a Deployment can run one config. The first choice is drawn from a seed that a
// container restart keeps (the pod's host name and advertise URL), so restarts rarely move it;
// the node id cannot serve, being new at every start as in the original. A conflict found in the
// registry is settled by mesh/address-claim.ts, and the node that moves takes the next choice.
import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { ipv4FromString, ipv4ToString, parseIpv4Cidr } from '../tun/ipv4.js';
import { ipv6ToString, parseIpv6Cidr } from '../tun/ipv6.js';
import type { TunmeshConfig } from './types.js';

/** The seed of a node's choices: its host name (the pod name in Kubernetes) and advertise URL. */
export function allocationSeed(advertiseUrl: string, host = hostname()): string {
  return `${host} ${advertiseUrl}`;
}

/** Host addresses of a network (network and broadcast addresses left out; /31 and /32 have none to spare). */
export function hostCount(networkCidr: string): number {
  const { prefix } = parseIpv4Cidr(networkCidr);
  return prefix >= 31 ? 0 : 2 ** (32 - prefix) - 2;
}

/**
 * The node's address ("a.b.c.d/prefix", the network's prefix): the first of the seed's choices
 * that is not `taken` (addresses without prefix). Choice k is a hash of (seed, k) into the
 * host range; after as many draws as there are hosts, the first free address in order.
 * Throws when the network has no free host address.
 */
export function addressChoice(networkCidr: string, seed: string, taken: ReadonlySet<string> = new Set()): string {
  const net = parseIpv4Cidr(networkCidr);
  const hosts = hostCount(networkCidr);
  const at = (offset: number): string => ipv4ToString((net.network + 1 + offset) >>> 0);
  for (let k = 0; k < hosts; k++) {
    const address = at(draw(seed, k) % hosts);
    if (!taken.has(address)) return `${address}/${net.prefix}`;
  }
  for (let offset = 0; offset < hosts; offset++) {
    if (!taken.has(at(offset))) return `${at(offset)}/${net.prefix}`;
  }
  throw new Error(`no free address left in ${networkCidr} (${hosts} host addresses, all taken)`);
}

function draw(seed: string, k: number): number {
  return createHash('sha256').update(`${seed}\0${k}`).digest().readUInt32BE(0);
}

/** Longest IPv6 network an address can be derived in: 32 bits are left for the IPv4 address. */
export const IPV6_DERIVE_MAX_PREFIX = 96;

/**
 * tunmesh.networking.ipv6.allocate: the IPv6 address is the network's prefix with the node's IPv4
 * address as its last 32 bits (2001:2:0:100::/56 and 198.19.7.9 -> 2001:2:0:100::c613:709/56).
 * It is unique wherever the IPv4 address is, so the IPv4 claim (mesh/address-claim.ts) settles
 * both, and a node that moves its IPv4 address moves its IPv6 one with it.
 */
export function derivedIpv6(network6Cidr: string, ipv4AddressCidr: string): string {
  const net = parseIpv6Cidr(network6Cidr);
  if (net.prefix > IPV6_DERIVE_MAX_PREFIX) throw new Error(`${network6Cidr} leaves no room for an IPv4 address (a /${IPV6_DERIVE_MAX_PREFIX} or shorter is needed)`);
  const v4 = ipv4FromString(ipv4AddressCidr.split('/')[0] ?? '');
  return `${ipv6ToString([net.network[0], net.network[1], net.network[2], v4 >>> 0])}/${net.prefix}`;
}

/** The same config with another node address (a move to the next choice); a derived IPv6 address follows it. */
export function withNodeAddress(config: TunmeshConfig, nodeAddressCidr: string): TunmeshConfig {
  const v6 = config.networking.ipv6;
  const ipv6 = v6 !== null && v6.derived ? { ...v6, nodeAddressCidr: derivedIpv6(v6.networkCidr, nodeAddressCidr) } : v6;
  return { ...config, networking: { ...config.networking, ipv4: { ...config.networking.ipv4, nodeAddressCidr }, ipv6 } };
}
