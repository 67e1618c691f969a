// Where a packet goes, decided with no allocation: IPv4 on uint32 addresses (the state's peers
// indexed by their node address, plus our own address, the mesh network and the broadcast
// addresses), IPv6 on the addresses read in place (Ipv6Index: peers that announced an IPv6
// address in their signed claim, our own, the IPv6 mesh network; link-scoped destinations
// are never carried).
// The worker builds one per state with T = its per-peer sender; the receive path with T = PeerRoute.
import { parseIpv4Cidr, type Ipv4Cidr } from '../tun/ipv4.js';
import {
  ipv6CidrContainsAt,
  ipv6DstOffset,
  ipv6EqualAt,
  isLinkLocalAt,
  isLinkScopeMulticastAt,
  isMulticastAt,
  parseIpv6Cidr,
  type Ipv6Cidr,
} from '../tun/ipv6.js';
import type { DataPlaneState, PeerRoute } from './contract.js';
import type { DropReason } from './drop-reasons.js';
import { Ipv6Index } from './ipv6-index.js';

/** The lookup answer for a broadcast destination that is allowed: deliver to every peer. */
export const BROADCAST = 'broadcast';
export type Destination<T> = T | DropReason | typeof BROADCAST;

const LIMITED_BROADCAST = 0xffffffff;
const MULTICAST_MASK = 0xf0000000;
const MULTICAST_NET = 0xe0000000;

/** An IPv6 route: the peer's value, its id, and the largest packet it takes (its MTU). Made once per state. */
export interface Ipv6Route<T> {
  readonly value: T;
  readonly owner: string;
  readonly mtu: number;
}

/** Our IPv6 side: own address, the IPv6 mesh network, and the peers' IPv6 addresses. */
interface Ipv6Routes<T> {
  self: Ipv6Cidr;
  network: Ipv6Cidr;
  byAddress: Ipv6Index<Ipv6Route<T>>;
}

export class RouteTable<T extends object> {
  readonly self: Ipv4Cidr;
  readonly network: Ipv4Cidr;
  readonly enableBroadcast: boolean;
  /** Every peer's value, for broadcasts. */
  readonly all: readonly T[];
  private readonly byAddress = new Map<number, T>();
  private readonly owners = new Map<number, string>();
  /** null: this node carries IPv4 only. */
  private readonly v6: Ipv6Routes<T> | null;

  constructor(state: DataPlaneState, make: (peer: PeerRoute) => T) {
    this.self = parseIpv4Cidr(state.addressCidr);
    this.network = parseIpv4Cidr(state.networkCidr);
    this.enableBroadcast = state.enableBroadcast;
    this.v6 = state.address6Cidr && state.network6Cidr
      ? { self: parseIpv6Cidr(state.address6Cidr), network: parseIpv6Cidr(state.network6Cidr), byAddress: new Ipv6Index() }
      : null;
    const all: T[] = [];
    for (const peer of state.peers) {
      const address = parseIpv4Cidr(peer.addressCidr).address;
      const value = make(peer);
      // A later peer claiming an address replaces the earlier owner, as the original's table does.
      this.byAddress.set(address, value);
      this.owners.set(address, peer.id);
      // Original nodes never get an IPv6 route, whatever the state says.
      if (this.v6 !== null && peer.address6Cidr && peer.kind !== 'original') {
        this.v6.byAddress.set(parseIpv6Cidr(peer.address6Cidr).address, { value, owner: peer.id, mtu: peer.mtu ?? state.mtu });
      }
      all.push(value);
    }
    this.all = all;
  }

  /** Whether this node carries IPv6 (an IPv6 address is configured). */
  get ipv6(): boolean {
    return this.v6 !== null;
  }

  isBroadcast(dst: number): boolean {
    return dst === LIMITED_BROADCAST || dst === this.network.broadcast || dst === this.self.broadcast;
  }

  /** Outbound (from our TUN): the peer to send to, BROADCAST, or why the packet is dropped. */
  lookup(dst: number): Destination<T> {
    if (dst === this.self.address) return 'loopback';
    if (this.isBroadcast(dst)) return this.enableBroadcast ? BROADCAST : 'config_prohibited';
    if (((dst & MULTICAST_MASK) >>> 0) === MULTICAST_NET) return 'unsupported';
    if (((dst & this.network.mask) >>> 0) !== this.network.network) return 'outside_configured_network';
    return this.byAddress.get(dst) ?? 'no_route';
  }

  /**
   * Outbound IPv6 packet at buf[off]: the route to the peer (its value and MTU), or why it is
   * dropped. Link-scoped destinations (NDP, MLD, router solicitations) are `link_local`; other
   * multicast is `unsupported` as in IPv4; there is no IPv6 broadcast.
   */
  lookup6(buf: Buffer, off: number): Ipv6Route<T> | DropReason {
    const v6 = this.v6;
    if (v6 === null) return 'unsupported';
    const dst = ipv6DstOffset(off);
    if (isLinkLocalAt(buf, dst) || isLinkScopeMulticastAt(buf, dst)) return 'link_local';
    if (isMulticastAt(buf, dst)) return 'unsupported';
    if (!ipv6CidrContainsAt(v6.network, buf, dst)) return 'outside_configured_network';
    if (this.isSelf6(buf, dst)) return 'loopback';
    return v6.byAddress.getAt(buf, dst) ?? 'no_route';
  }

  /** The id of the node that owns an address, if any. */
  ownerOf(address: number): string | undefined {
    return this.owners.get(address);
  }

  /** The id of the node that owns the IPv6 address at buf[addrOff], if any. */
  ownerOf6(buf: Buffer, addrOff: number): string | undefined {
    return this.v6?.byAddress.getAt(buf, addrOff)?.owner;
  }

  /** Whether the IPv6 address at buf[addrOff] is ours. */
  isSelf6(buf: Buffer, addrOff: number): boolean {
    return this.v6 !== null && ipv6EqualAt(this.v6.self.address, buf, addrOff);
  }
}

