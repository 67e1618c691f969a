// The original's rules for a packet received from a peer (protocol §7 "From a peer"), on the
// packet's bytes in place: no allocation, the answer is a drop reason or null (deliver).
import { ipv4Dst, ipv4Src } from '../tun/ipv4.js';
import type { DropReason } from './contract.js';
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
  if (buf[off]! >>> 4 !== 4) return 'unsupported';
  if (buf.readUInt16BE(off + 2) > len) return 'malformed';
  const owner = table.ownerOf(ipv4Src(buf, off));
  if (owner === undefined) return 'no_return_route';
  if (owner !== senderId) return 'route_conflict';
  const dst = ipv4Dst(buf, off);
  if (dst === table.self.address) return null;
  if (table.enableBroadcast && table.isBroadcast(dst)) return null;
  return 'misrouted';
}
