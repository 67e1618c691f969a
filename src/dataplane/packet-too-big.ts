// ICMPv6 Packet Too Big (RFC 4443 §3.2) for IPv6 packets larger than the peer they are routed to
// takes: each tunmesh node announces its TUN MTU in its signed claim, so the sending node knows
// before it sends. Instead of a silent drop (which black-holes large packets: IPv6 routers never
// fragment), the sender writes a Packet Too Big into its own TUN device, as a router on the path
// would: the local application's kernel lowers its path MTU toward that address and sends smaller
// packets (TCP segments, fragmented UDP/ICMP), and `ping -M do` reports "Packet too big".
//
//   source       the too-big packet's destination (the peer that cannot take it)
//   destination  the too-big packet's source (a local application)
//   body         type 2, code 0, the peer's MTU, then as much of the packet as fits in 1280 bytes
//
// Never in answer to an ICMPv6 error (RFC 4443 §2.4 e) or a multicast/unspecified source, and
// rate-limited (§2.4 f). Built in one buffer made once: no allocation per answer.
import { checksumOf, onesSum, pseudoSumV6 } from '../offload/checksum.js';
import { IPV6_HEADER_LENGTH, IPV6_MIN_MTU, NEXT_HEADER_ICMPV6, ipv6PayloadLength, isMulticastAt } from '../tun/ipv6.js';

const ICMPV6_PACKET_TOO_BIG = 2;
/** ICMPv6 types below 128 are errors. */
const ICMPV6_FIRST_INFO_TYPE = 128;
const ICMP_HEADER = 8;
/** At most this many answers per second per worker (a token bucket refilled continuously). */
export const TOO_BIG_PER_SECOND = 100;
const HOP_LIMIT = 64;

export class PacketTooBig {
  private readonly out = Buffer.alloc(IPV6_MIN_MTU);
  private tokens = TOO_BIG_PER_SECOND;
  private last: number;

  /** `write` hands one packet (the buffer's first `len` bytes) to our TUN device; `now` in ms. */
  constructor(
    private readonly write: (buf: Buffer, len: number) => boolean,
    private readonly now: () => number = Date.now,
  ) {
    this.last = now();
  }

  /** Answers the packet at buf[off, off+len) with a Packet Too Big naming `mtu`; false when it is not answered. */
  answer(buf: Buffer, off: number, len: number, mtu: number): boolean {
    if (!this.answerable(buf, off, len) || !this.takeToken()) return false;
    const out = this.out;
    const quoted = Math.min(len, IPV6_MIN_MTU - IPV6_HEADER_LENGTH - ICMP_HEADER);
    const payload = ICMP_HEADER + quoted;
    out.writeUInt32BE(0x60000000, 0); // version 6, traffic class 0, flow label 0
    out.writeUInt16BE(payload, 4);
    out[6] = NEXT_HEADER_ICMPV6;
    out[7] = HOP_LIMIT;
    buf.copy(out, 8, off + 24, off + 40); // source: the packet's destination
    buf.copy(out, 24, off + 8, off + 24); // destination: the packet's source
    out[40] = ICMPV6_PACKET_TOO_BIG;
    out[41] = 0;
    out.writeUInt16BE(0, 42);
    out.writeUInt32BE(mtu, 44);
    buf.copy(out, 48, off, off + quoted);
    out.writeUInt16BE(icmpv6Checksum(out, payload), 42);
    return this.write(out, IPV6_HEADER_LENGTH + payload);
  }

  private answerable(buf: Buffer, off: number, len: number): boolean {
    if (len < IPV6_HEADER_LENGTH || IPV6_HEADER_LENGTH + ipv6PayloadLength(buf, off) > len) return false;
    if (isMulticastAt(buf, off + 8) || isUnspecifiedAt(buf, off + 8)) return false;
    const icmp = buf[off + 6] === NEXT_HEADER_ICMPV6 && len > IPV6_HEADER_LENGTH;
    return !(icmp && buf[off + IPV6_HEADER_LENGTH]! < ICMPV6_FIRST_INFO_TYPE);
  }

  private takeToken(): boolean {
    const now = this.now();
    this.tokens = Math.min(TOO_BIG_PER_SECOND, this.tokens + ((now - this.last) * TOO_BIG_PER_SECOND) / 1000);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }
}

function isUnspecifiedAt(buf: Buffer, addrOff: number): boolean {
  for (let i = 0; i < 16; i++) if (buf[addrOff + i] !== 0) return false;
  return true;
}

/**
 * The ICMPv6 checksum of the packet at buf[0] with `payload` bytes of ICMPv6 (checksum field
 * zero): the pseudo-header (source, destination, length, next header) and the message.
 */
export function icmpv6Checksum(buf: Buffer, payload: number): number {
  return checksumOf(pseudoSumV6(buf, 0, NEXT_HEADER_ICMPV6, payload) + onesSum(buf, IPV6_HEADER_LENGTH, payload));
}
