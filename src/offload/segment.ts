// Software segmentation: a GSO super-packet read from an offloading TUN (up to 64 KB, prefixed
// with a virtio-net header) cut into the MTU-sized packets the kernel would have put on the wire,
// for every path that cannot take super-packets: an original node (JSON path), a peer without
// the offload capability, a fast channel with a smaller MTU, a TUN written without offloads.
//
//   1. layout      read the packet's real header lengths (IPv4 options, IPv6 extension
//                  headers, TCP options) from the packet, not from the virtio header's hdrLen;
//                  check that the GSO type matches the packet (TCPV4/TCPV6/UDP_L4).
//   2. sizing      payload per segment: gsoSize, lowered for TCP to fit `maxPacketLen` (a UDP
//                  segment is a datagram of the sender's choosing and is never cut smaller: too
//                  big is refused); check the whole result fits the target before writing.
//   3. copy        per segment: the headers, then its slice of the payload, written straight
//                  into the caller's SegmentTarget slab behind `headroom` zeroed bytes (a zero
//                  virtio header: what a TUN write of a plain packet needs).
//   4. IP          IPv4: total length, id + i (the kernel's TSO/USO ids), header checksum
//                  recomputed (options included). IPv6: payload length (no header checksum).
//   5. TCP/UDP     TCP: seq + i * mss; CWR on the first segment only, FIN and PSH on the last
//                  only (as tcp_gso_segment). UDP: its own length. Both: the checksum computed
//                  in full over pseudo-header, header and payload (the super-packet's field only
//                  holds a partial pseudo-header sum); a UDP checksum of 0 is sent as 0xffff.
//
// A packet that is not a super-packet (GSO_NONE) goes the same way as one segment, its partial
// checksum finished when NEEDS_CSUM says so; completeChecksum() does that in place.
//
// Nothing here allocates: the target slab, its offsets/lengths arrays, the layout object and the
// DataViews (src/offload/checksum.ts) are made once and reused.

import { ipv4FixChecksum } from '../tun/ipv4.js';
import { MAX_IP_PACKET } from '../tun/vnet.js';
import { checksumOf, onesSum, pseudoSumV4, pseudoSumV6 } from './checksum.js';
import { IPPROTO_TCP, newPacketLayout, readPacketLayout, type PacketLayout } from './layout.js';
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_HDR_GSO_UDP_L4,
  gsoKind,
  type VnetHeader,
} from './vnet-header.js';

/**
 * Where segments go: written back to back into `buffer` from `cursor`; packet i of the target is
 * buffer[offsets[i], offsets[i] + lengths[i]). The shape of TunQueue.writeBatch()'s arguments.
 */
export interface SegmentTarget {
  readonly buffer: Buffer;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  /** Packets in the target: offsets/lengths [0, count) are valid. */
  count: number;
  /** The next free byte of buffer. */
  cursor: number;
  /** Bytes kept (zeroed) in front of each packet: a virtio header or a frame header, written by the caller. */
  readonly headroom: number;
}

/** Why a packet could not be segmented (nothing was written to the target). */
export type SegmentFailure =
  /** Lengths do not add up, GSO type does not match the packet, gsoSize 0, bad checksum offsets. */
  | 'malformed'
  /** GSO type UFO (VIRTIO_NET_HDR_GSO_UDP) or unknown. */
  | 'unsupported'
  /** A segment would exceed maxPacketLen and cannot be cut smaller (UDP, or headers alone too long). */
  | 'too_big'
  /** The target has too few bytes or packet slots left; flush it and try again. */
  | 'no_room';

/** A target slab of `bytes` bytes for up to `maxPackets` packets; allocate once, reuse with resetSegmentTarget(). */
export function newSegmentTarget(bytes: number, maxPackets: number, headroom = 0): SegmentTarget {
  return { buffer: Buffer.alloc(bytes), offsets: new Uint32Array(maxPackets), lengths: new Uint32Array(maxPackets), count: 0, cursor: 0, headroom };
}

export function resetSegmentTarget(t: SegmentTarget): void {
  t.count = 0;
  t.cursor = 0;
}

const TCP_FLAG_FIN = 0x01;
const TCP_FLAG_PSH = 0x08;
const TCP_FLAG_CWR = 0x80;

/** The one layout object of the hot path (JavaScript runs one packet at a time). */
const layout = newPacketLayout();

/**
 * Appends the packets the super-packet buf[off, off+len) (its virtio header already parsed into
 * `hdr`) cuts into to `out`: returns how many, or why none. No packet exceeds `maxPacketLen`
 * (default MAX_IP_PACKET: no limit beyond gsoSize).
 */
export function segmentSuperPacket(hdr: VnetHeader, buf: Buffer, off: number, len: number, out: SegmentTarget, maxPacketLen = MAX_IP_PACKET): number | SegmentFailure {
  const kind = gsoKind(hdr);
  if (kind === VIRTIO_NET_HDR_GSO_NONE) return copyWhole(hdr, buf, off, len, out, maxPacketLen);
  if (kind !== VIRTIO_NET_HDR_GSO_TCPV4 && kind !== VIRTIO_NET_HDR_GSO_TCPV6 && kind !== VIRTIO_NET_HDR_GSO_UDP_L4) return 'unsupported';
  if (!readPacketLayout(buf, off, len, layout) || !matchesKind(kind, layout) || hdr.gsoSize === 0) return 'malformed';

  const headers = layout.payloadOff;
  const payload = layout.end - headers;
  const tcp = layout.l4Proto === IPPROTO_TCP;
  const mss = tcp ? Math.min(hdr.gsoSize, maxPacketLen - headers) : hdr.gsoSize;
  if (mss <= 0 || headers + Math.min(mss, payload) > maxPacketLen) return 'too_big';
  const n = payload === 0 ? 1 : Math.ceil(payload / mss);
  if (out.count + n > out.offsets.length || out.cursor + n * (out.headroom + headers) + payload > out.buffer.length) return 'no_room';

  const ipId = layout.version === 4 ? buf.readUInt16BE(off + 4) : 0;
  const seq = tcp ? buf.readUInt32BE(off + layout.l4Off + 4) : 0;
  for (let i = 0; i < n; i++) {
    const from = i * mss;
    const size = Math.min(mss, payload - from);
    const at = place(out, headers + size);
    buf.copy(out.buffer, at, off, off + headers);
    buf.copy(out.buffer, at + headers, off + headers + from, off + headers + from + size);
    fixIp(out.buffer, at, headers + size, (ipId + i) & 0xffff);
    if (tcp) fixTcp(out.buffer, at, headers + size, (seq + from) >>> 0, i === 0, i === n - 1);
    else fixUdp(out.buffer, at, headers + size);
  }
  return n;
}

/**
 * Finishes the partial checksum of a packet read with VIRTIO_NET_HDR_F_NEEDS_CSUM, in place: the
 * one's complement sum from csumStart to the end (the field holds the kernel's pseudo-header sum)
 * stored at csumStart + csumOffset, 0 sent as 0xffff (as skb_checksum_help). Clears the flag in
 * `hdr`. False (packet untouched) when the offsets lie outside the packet. No flag: nothing to do.
 */
export function completeChecksum(hdr: VnetHeader, buf: Buffer, off: number, len: number): boolean {
  if ((hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) === 0) return true;
  const field = hdr.csumStart + hdr.csumOffset;
  if (hdr.csumStart >= len || field + 2 > len) return false;
  const sum = onesSum(buf, off + hdr.csumStart, len - hdr.csumStart);
  buf.writeUInt16BE(checksumOf(sum) || 0xffff, off + field);
  hdr.flags &= ~VIRTIO_NET_HDR_F_NEEDS_CSUM;
  return true;
}

function matchesKind(kind: number, l: PacketLayout): boolean {
  if (kind === VIRTIO_NET_HDR_GSO_UDP_L4) return l.l4Proto !== IPPROTO_TCP;
  return l.l4Proto === IPPROTO_TCP && l.version === (kind === VIRTIO_NET_HDR_GSO_TCPV4 ? 4 : 6);
}

/** A plain packet: copied as it is, its checksum finished if the kernel left it partial. */
function copyWhole(hdr: VnetHeader, buf: Buffer, off: number, len: number, out: SegmentTarget, maxPacketLen: number): number | SegmentFailure {
  if (len > maxPacketLen) return 'too_big';
  if (out.count + 1 > out.offsets.length || out.cursor + out.headroom + len > out.buffer.length) return 'no_room';
  const field = hdr.csumStart + hdr.csumOffset;
  if ((hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) !== 0 && (hdr.csumStart >= len || field + 2 > len)) return 'malformed';
  const at = place(out, len);
  buf.copy(out.buffer, at, off, off + len);
  const flags = hdr.flags;
  completeChecksum(hdr, out.buffer, at, len);
  hdr.flags = flags; // the caller's header describes its own (unfinished) packet
  return 1;
}

/** Reserves headroom (zeroed) + len bytes and a packet slot in `out`; returns the packet's offset. */
function place(out: SegmentTarget, len: number): number {
  const start = out.cursor;
  const at = start + out.headroom;
  if (out.headroom > 0) out.buffer.fill(0, start, at);
  out.offsets[out.count] = at;
  out.lengths[out.count] = len;
  out.count++;
  out.cursor = at + len;
  return at;
}

function fixIp(b: Buffer, at: number, len: number, id: number): void {
  if (layout.version === 4) {
    b.writeUInt16BE(len, at + 2);
    b.writeUInt16BE(id, at + 4);
    ipv4FixChecksum(b, at);
  } else {
    b.writeUInt16BE(len - 40, at + 4);
  }
}

function fixTcp(b: Buffer, at: number, len: number, seq: number, first: boolean, last: boolean): void {
  const th = at + layout.l4Off;
  b.writeUInt32BE(seq, th + 4);
  let flags = b[th + 13]!;
  if (!first) flags &= ~TCP_FLAG_CWR;
  if (!last) flags &= ~(TCP_FLAG_FIN | TCP_FLAG_PSH);
  b[th + 13] = flags;
  b.writeUInt16BE(0, th + 16);
  b.writeUInt16BE(checksumOf(l4Sum(b, at, len)), th + 16);
}

function fixUdp(b: Buffer, at: number, len: number): void {
  const uh = at + layout.l4Off;
  b.writeUInt16BE(len - layout.l4Off, uh + 4);
  b.writeUInt16BE(0, uh + 6);
  b.writeUInt16BE(checksumOf(l4Sum(b, at, len)) || 0xffff, uh + 6);
}

/** Unfolded sum of the pseudo-header, the L4 header (checksum field zero) and the payload. */
function l4Sum(b: Buffer, at: number, len: number): number {
  const l4Len = len - layout.l4Off;
  const pseudo = layout.version === 4 ? pseudoSumV4(b, at, layout.l4Proto, l4Len) : pseudoSumV6(b, at, layout.l4Proto, l4Len);
  return pseudo + onesSum(b, at + layout.l4Off, layout.payloadOff - layout.l4Off) + onesSum(b, at + layout.payloadOff, len - layout.payloadOff);
}
