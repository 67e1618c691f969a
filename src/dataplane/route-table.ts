// Where a packet goes, decided on uint32 addresses with no allocation: the state's peers indexed
// by their node address, plus our own address, the mesh network and the broadcast addresses.
// The worker builds one per state with T = its per-peer sender; the receive path with T = PeerRoute.
import { parseIpv4Cidr, type Ipv4Cidr } from '../tun/ipv4.js';
import type { DataPlaneState, DropReason, PeerRoute } from './contract.js';

/** The lookup answer for a broadcast destination that is allowed: deliver to every peer. */
export const BROADCAST = 'broadcast';
export type Destination<T> = T | DropReason | typeof BROADCAST;

const LIMITED_BROADCAST = 0xffffffff;
const MULTICAST_MASK = 0xf0000000;
const MULTICAST_NET = 0xe0000000;

export class RouteTable<T extends object> {
  readonly self: Ipv4Cidr;
  readonly network: Ipv4Cidr;
  readonly enableBroadcast: boolean;
  /** Every peer's value, for broadcasts. */
  readonly all: readonly T[];
  private readonly byAddress = new Map<number, T>();
  private readonly owners = new Map<number, string>();

  constructor(state: DataPlaneState, make: (peer: PeerRoute) => T) {
    this.self = parseIpv4Cidr(state.addressCidr);
    this.network = parseIpv4Cidr(state.networkCidr);
    this.enableBroadcast = state.enableBroadcast;
    const all: T[] = [];
    for (const peer of state.peers) {
      const address = parseIpv4Cidr(peer.addressCidr).address;
      const value = make(peer);
      // A later peer claiming an address replaces the earlier owner, as the original's table does.
      this.byAddress.set(address, value);
      this.owners.set(address, peer.id);
      all.push(value);
    }
    this.all = all;
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

  /** The id of the node that owns an address, if any. */
  ownerOf(address: number): string | undefined {
    return this.owners.get(address);
  }
}

/** The reason a lookup answer is a drop, or undefined when it names a destination. */
export function isDrop<T>(d: Destination<T>): d is DropReason {
  return typeof d === 'string' && d !== BROADCAST;
}
