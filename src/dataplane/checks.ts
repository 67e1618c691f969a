// The original's rules for a packet received from a peer (protocol §7 "From a peer"), on the
// packet's bytes in place: no allocation, the answer is a drop reason or null (deliver).
// IPv6 (tunmesh peers only) follows the same rules: the source must be the sender's announced
// IPv6 address, the destination ours (no IPv6 broadcast; link-scoped packets never travel).
import { ipv4Dst, ipv4Src } from '../tun/ipv4.js';
import { IPV6_HEADER_LENGTH, ipv6DstOffset, ipv6PayloadLength, ipv6SrcOffset } from '../tun/ipv6.js';
import type { DropReason } from './drop-reasons.js';
import type { RouteTable } from './route-table.js';

const IPV4_MIN_HEADER = 20;

export function checkInbound<T extends object>(
  table: RouteTable<T>,
  senderId: string,
  buf: Buffer,
  off: number,
  len: number,
): DropReason | null {
  if (len < IPV4_MIN_HEADER) return 'malformed';
  const version = buf[off]! >>> 4;
  if (version === 6) return checkInbound6(table, senderId, buf, off, len);
  if (version !== 4) return 'unsupported';
  if (buf.readUInt16BE(off + 2) > len) return 'malformed';
  const owner = table.ownerOf(ipv4Src(buf, off));
  if (owner === undefined) return 'no_return_route';
  if (owner !== senderId) return 'route_conflict';
  const dst = ipv4Dst(buf, off);
  if (dst === table.self.address) return null;
  if (table.enableBroadcast && table.isBroadcast(dst)) return null;
  return 'misrouted';
}

function checkInbound6<T extends object>(table: RouteTable<T>, senderId: string, buf: Buffer, off: number, len: number): DropReason | null {
  if (len < IPV6_HEADER_LENGTH || IPV6_HEADER_LENGTH + ipv6PayloadLength(buf, off) > len) return 'malformed';
  if (!table.ipv6) return 'unsupported';
  const owner = table.ownerOf6(buf, ipv6SrcOffset(off));
  if (owner === undefined) return 'no_return_route';
  if (owner !== senderId) return 'route_conflict';
  return table.isSelf6(buf, ipv6DstOffset(off)) ? null : 'misrouted';
}
