// Software segmentation, property-tested: random super-packets (IPv4 with 0-40 bytes of options,
// IPv6 with 0-2 extension headers, TCP with 0-40 bytes of options, UDP; random MSS and payload
// sizes incl. exact multiples and a 1-byte last segment) from a seeded PRNG, every segment
// checked by an independent verifier (a naive RFC 1071 sum written here, not the module's).
// The kernel's own segmentation is compared in test/integration/offload-segment.test.ts.
import { expect } from 'chai';
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_HDR_GSO_UDP,
  VIRTIO_NET_HDR_GSO_UDP_L4,
  VIRTIO_NET_HDR_GSO_ECN,
  completeChecksum,
  newSegmentTarget,
  newVnetHeader,
  resetSegmentTarget,
  segmentSuperPacket,
  type SegmentTarget,
  type VnetHeader,
} from '../../src/offload/index.js';
import { naiveOnesSum } from '../helpers/checksum.js';

const TCP = 6;
const UDP = 17;
const FIN = 0x01;
const PSH = 0x08;
const CWR = 0x80;

/** mulberry32: a small seeded PRNG, so a failure replays. */
function prng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n: number): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

function pseudoHeader(pkt: Buffer, v6: boolean, proto: number, l4Len: number): Buffer {
  const ph = Buffer.alloc(v6 ? 40 : 12);
  if (v6) {
    pkt.copy(ph, 0, 8, 40);
    ph.writeUInt32BE(l4Len, 32);
    ph[39] = proto;
  } else {
    pkt.copy(ph, 0, 12, 20);
    ph[9] = proto;
    ph.writeUInt16BE(l4Len, 10);
  }
  return ph;
}

interface Shape {
  v6: boolean;
  proto: number;
  ipHeader: number;
  l4Header: number;
  payload: Buffer;
  mss: number;
}

/** A super-packet with the given shape; its checksum fields hold garbage (segmentation must not use them). */
function buildPacket(rnd: (n: number) => number, s: Shape): { pkt: Buffer; l4Off: number; headers: number } {
  const l4Off = s.ipHeader;
  const headers = l4Off + s.l4Header;
  const pkt = Buffer.alloc(headers + s.payload.length);
  if (s.v6) {
    pkt.writeUInt32BE(0x60000000 | rnd(1 << 20), 0);
    pkt.writeUInt16BE(pkt.length - 40, 4);
    pkt[7] = 64;
    Buffer.from('20010002000000000000000000000001', 'hex').copy(pkt, 8);
    Buffer.from('200100020000000000000000000000' + (2 + rnd(200)).toString(16).padStart(2, '0'), 'hex').copy(pkt, 24);
    // Destination-options headers (each 8..24 bytes of PadN) up to the L4 header.
    let at = 40;
    let nextField = 6;
    while (at < l4Off) {
      pkt[nextField] = 60;
      const len = l4Off - at >= 16 && rnd(2) === 0 ? 16 : 8;
      pkt[at + 1] = len / 8 - 1;
      pkt[at + 2] = 1; // PadN
      pkt[at + 3] = len - 4;
      nextField = at;
      at += len;
    }
    pkt[nextField] = s.proto;
  } else {
    pkt[0] = 0x40 | (s.ipHeader / 4);
    pkt[1] = rnd(256);
    pkt.writeUInt16BE(pkt.length, 2);
    pkt.writeUInt16BE(rnd(65536), 4);
    pkt.writeUInt16BE(rnd(2) === 0 ? 0x4000 : 0, 6); // DF or nothing; never a fragment
    pkt[8] = 64;
    pkt[9] = s.proto;
    pkt.writeUInt16BE(rnd(65536), 10); // garbage header checksum
    pkt.writeUInt32BE(0xc6120001, 12);
    pkt.writeUInt32BE(0xc6120002 + rnd(200), 16);
    for (let i = 20; i < s.ipHeader; i++) pkt[i] = i === s.ipHeader - 1 ? 0 : 1; // NOPs, end of list
  }
  pkt.writeUInt16BE(1024 + rnd(60000), l4Off);
  pkt.writeUInt16BE(1024 + rnd(60000), l4Off + 2);
  if (s.proto === TCP) {
    pkt.writeUInt32BE(rnd(2) === 0 ? (0xffffffff - rnd(100_000)) >>> 0 : rnd(2 ** 32), l4Off + 4); // seq, often about to wrap
    pkt.writeUInt32BE(rnd(2 ** 32), l4Off + 8);
    pkt[l4Off + 12] = (s.l4Header / 4) << 4;
    pkt[l4Off + 13] = 0x10 | (rnd(2) ? FIN : 0) | (rnd(2) ? PSH : 0) | (rnd(2) ? CWR : 0) | (rnd(2) ? 0x40 : 0) | (rnd(2) ? 0x20 : 0);
    pkt.writeUInt16BE(rnd(65536), l4Off + 14);
    pkt.writeUInt16BE(rnd(65536), l4Off + 16); // garbage checksum
    pkt.writeUInt16BE(rnd(65536), l4Off + 18);
    for (let i = l4Off + 20; i < headers; i++) pkt[i] = rnd(256);
  } else {
    pkt.writeUInt16BE(s.payload.length + 8, l4Off + 4);
    pkt.writeUInt16BE(rnd(65536), l4Off + 6);
  }
  s.payload.copy(pkt, headers);
  return { pkt, l4Off, headers };
}

function gsoHeader(s: Shape, l4Off: number): VnetHeader {
  const hdr = newVnetHeader();
  hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  hdr.gsoType = s.proto === UDP ? VIRTIO_NET_HDR_GSO_UDP_L4 : s.v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
  hdr.gsoSize = s.mss;
  hdr.hdrLen = 0xffff; // the kernel's hdrLen is not a header length; segmentation must not need it
  hdr.csumStart = l4Off;
  hdr.csumOffset = s.proto === TCP ? 16 : 6;
  return hdr;
}

function randomShape(rnd: (n: number) => number): Shape {
  const v6 = rnd(2) === 1;
  const proto = rnd(2) === 0 ? TCP : UDP;
  const ipHeader = v6 ? 40 + 8 * rnd(5) : 20 + 4 * rnd(11);
  const l4Header = proto === TCP ? 20 + 4 * rnd(11) : 8;
  const headers = ipHeader + l4Header;
  const mss = 1 + rnd(rnd(4) === 0 ? 200 : 9000);
  const room = 65535 - headers;
  let size: number;
  switch (rnd(4)) {
    case 0: // exactly divisible
      size = mss * Math.max(1, Math.floor(rnd(room + 1) / mss));
      break;
    case 1: // a 1-byte last segment
      size = Math.min(room, mss * Math.max(1, Math.floor(rnd(room) / mss)) + 1);
      break;
    case 2: // smaller than one segment
      size = 1 + rnd(Math.min(mss, room));
      break;
    default:
      size = 1 + rnd(room);
  }
  size = Math.min(size, mss * 300); // at most 300 segments: a 1-byte MSS is legal, 65535 of them add nothing
  const payload = Buffer.alloc(size);
  for (let i = 0; i < size; i++) payload[i] = rnd(256);
  return { v6, proto, ipHeader, l4Header, payload, mss };
}

/** Checks every segment in `out` against the original; returns the concatenated payloads. */
/** expect(actual).to.equal(expected), with the message built only on failure (thousands of checks per case). */
function same(actual: unknown, expected: unknown, message: () => string): void {
  if (actual !== expected) expect(actual, message()).to.equal(expected);
}

function verifySegments(s: Shape, pkt: Buffer, out: SegmentTarget, first: number, mss: number, what: string): Buffer {
  const l4Off = s.ipHeader;
  const headers = l4Off + s.l4Header;
  const n = out.count - first;
  const payloads: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const at = out.offsets[first + i]!;
    const seg = out.buffer.subarray(at, at + out.lengths[first + i]!);
    const w = `${what}, segment ${i}/${n}`;
    const size = i < n - 1 ? mss : s.payload.length - (n - 1) * mss;
    same(seg.length, headers + size, () => `${w}: length`);
    if (out.headroom > 0) same(out.buffer.subarray(at - out.headroom, at).every((b) => b === 0), true, () => `${w}: headroom zeroed`);
    if (s.v6) {
      same(seg.readUInt16BE(4), seg.length - 40, () => `${w}: IPv6 payload length`);
      same(seg.subarray(6, l4Off).equals(pkt.subarray(6, l4Off)), true, () => `${w}: IPv6 header and extensions`);
    } else {
      same(seg.readUInt16BE(2), seg.length, () => `${w}: IPv4 total length`);
      same(seg.readUInt16BE(4), (pkt.readUInt16BE(4) + i) & 0xffff, () => `${w}: IPv4 id`);
      same(naiveOnesSum(seg.subarray(0, l4Off)), 0xffff, () => `${w}: IPv4 header checksum`);
      same(seg.subarray(12, l4Off).equals(pkt.subarray(12, l4Off)), true, () => `${w}: addresses and options`);
    }
    const l4Len = seg.length - l4Off;
    same(naiveOnesSum(pseudoHeader(seg, s.v6, s.proto, l4Len), seg.subarray(l4Off)), 0xffff, () => `${w}: L4 checksum`);
    if (s.proto === TCP) {
      same(seg.readUInt32BE(l4Off + 4), (pkt.readUInt32BE(l4Off + 4) + i * mss) >>> 0, () => `${w}: seq`);
      let flags = pkt[l4Off + 13]!;
      if (i > 0) flags &= ~CWR;
      if (i < n - 1) flags &= ~(FIN | PSH);
      same(seg[l4Off + 13], flags, () => `${w}: flags`);
      same(seg.subarray(l4Off + 8, l4Off + 13).equals(pkt.subarray(l4Off + 8, l4Off + 13)), true, () => `${w}: ack, data offset`);
      same(seg.subarray(l4Off + 14, l4Off + 16).equals(pkt.subarray(l4Off + 14, l4Off + 16)), true, () => `${w}: window`);
      same(seg.subarray(l4Off + 18, headers).equals(pkt.subarray(l4Off + 18, headers)), true, () => `${w}: urgent pointer, options`);
    } else {
      same(seg.readUInt16BE(l4Off + 4), l4Len, () => `${w}: UDP length`);
      same(seg.readUInt16BE(l4Off + 6) !== 0, true, () => `${w}: a UDP checksum is never 0`);
    }
    same(seg.subarray(l4Off, l4Off + 4).equals(pkt.subarray(l4Off, l4Off + 4)), true, () => `${w}: ports`);
    payloads.push(seg.subarray(headers));
  }
  return Buffer.concat(payloads);
}

describe('software segmentation of GSO super-packets (property tests, seeded)', function () {
  const target = newSegmentTarget(1 << 22, 4096, 10);

  it('400 random super-packets: lengths, ids, seqs, flags, checksums and payload all as the kernel cuts them', function () {
    const rnd = prng(0x5e95e9);
    const kinds = new Set<string>();
    for (let iter = 0; iter < 400; iter++) {
      const s = randomShape(rnd);
      const { pkt, l4Off } = buildPacket(rnd, s);
      const hdr = gsoHeader(s, l4Off);
      const what = `case ${iter} (IPv${s.v6 ? 6 : 4} ${s.proto === TCP ? 'TCP' : 'UDP'}, headers ${s.ipHeader}+${s.l4Header}, payload ${s.payload.length}, mss ${s.mss})`;
      resetSegmentTarget(target);
      // Start mid-buffer, at an odd offset, as a packet in a read batch may sit.
      const src = Buffer.alloc(pkt.length + 7);
      pkt.copy(src, 3);
      const n = segmentSuperPacket(hdr, src, 3, pkt.length, target);
      expect(n, what).to.equal(Math.ceil(s.payload.length / s.mss));
      expect(verifySegments(s, pkt, target, 0, s.mss, what).equals(s.payload), `${what}: payloads concatenated`).to.equal(true);
      expect(src.subarray(3, 3 + pkt.length).equals(pkt), `${what}: the super-packet is left as it was`).to.equal(true);
      const rest = s.payload.length % s.mss;
      kinds.add(`${s.v6}/${s.proto}/${n === 1 ? 'single' : rest === 0 ? 'exact' : rest === 1 ? 'one-byte-last' : 'other'}`);
    }
    expect(kinds.size, 'every combination was drawn').to.equal(2 * 2 * 4);
  });

  it('TCP is cut smaller to fit maxPacketLen (an MTU-limited channel); UDP datagrams are refused as too big', function () {
    const rnd = prng(7);
    for (let iter = 0; iter < 100; iter++) {
      const s = randomShape(rnd);
      s.mss = 1400 + rnd(7000);
      const { pkt, l4Off, headers } = buildPacket(rnd, s);
      const maxPacketLen = headers + 500 + rnd(1400);
      resetSegmentTarget(target);
      const n = segmentSuperPacket(gsoHeader(s, l4Off), pkt, 0, pkt.length, target, maxPacketLen);
      if (s.proto === UDP) {
        const tooBig = headers + Math.min(s.mss, s.payload.length) > maxPacketLen;
        expect(n).to.equal(tooBig ? 'too_big' : Math.ceil(s.payload.length / s.mss));
        continue;
      }
      const mss = Math.min(s.mss, maxPacketLen - headers);
      expect(n).to.equal(Math.ceil(s.payload.length / mss));
      for (let i = 0; i < target.count; i++) expect(target.lengths[i]).to.be.at.most(maxPacketLen);
      expect(verifySegments(s, pkt, target, 0, mss, `case ${iter}`).equals(s.payload)).to.equal(true);
    }
  });

  it('appends after what the target already holds, and refuses without writing when it is full', function () {
    const rnd = prng(11);
    const s: Shape = { v6: false, proto: TCP, ipHeader: 24, l4Header: 32, payload: Buffer.alloc(14_001, 0xab), mss: 1400 };
    const { pkt, l4Off } = buildPacket(rnd, s);
    const small = newSegmentTarget(3 * 15_000, 22);
    expect(segmentSuperPacket(gsoHeader(s, l4Off), pkt, 0, pkt.length, small)).to.equal(11);
    expect(segmentSuperPacket(gsoHeader(s, l4Off), pkt, 0, pkt.length, small)).to.equal(11);
    expect(verifySegments(s, pkt, small, 11, 1400, 'second').equals(s.payload)).to.equal(true);
    const before = { count: small.count, cursor: small.cursor };
    expect(segmentSuperPacket(gsoHeader(s, l4Off), pkt, 0, pkt.length, small)).to.equal('no_room');
    expect({ count: small.count, cursor: small.cursor }).to.deep.equal(before);
    const fewBytes = newSegmentTarget(14_000, 100);
    expect(segmentSuperPacket(gsoHeader(s, l4Off), pkt, 0, pkt.length, fewBytes)).to.equal('no_room');
    expect(fewBytes.count).to.equal(0);
  });

  it('a UDP segment whose checksum comes out 0 carries 0xffff (0 means "no checksum")', function () {
    const rnd = prng(13);
    for (const v6 of [false, true]) {
      const s: Shape = { v6, proto: UDP, ipHeader: v6 ? 40 : 20, l4Header: 8, payload: Buffer.alloc(2400, 0x5a), mss: 1200 };
      const { pkt, l4Off, headers } = buildPacket(rnd, s);
      const first = (): Buffer => {
        resetSegmentTarget(target);
        expect(segmentSuperPacket(gsoHeader(s, l4Off), pkt, 0, pkt.length, target)).to.equal(2);
        return target.buffer.subarray(target.offsets[0]!, target.offsets[0]! + target.lengths[0]!);
      };
      // Tune the first payload word so that the first segment sums to 0xffff without its checksum.
      let seg = first();
      seg.writeUInt16BE(0, l4Off + 6);
      const sum = naiveOnesSum(pseudoHeader(seg, v6, UDP, seg.length - l4Off), seg.subarray(l4Off));
      let w = pkt.readUInt16BE(headers) + (0xffff - sum);
      while (w > 0xffff) w = (w & 0xffff) + (w >>> 16);
      pkt.writeUInt16BE(w, headers);
      seg = first();
      expect(seg.readUInt16BE(l4Off + 6)).to.equal(0xffff);
      expect(naiveOnesSum(pseudoHeader(seg, v6, UDP, seg.length - l4Off), seg.subarray(l4Off))).to.equal(0xffff);
    }
  });

  it('refuses malformed and unsupported super-packets', function () {
    const rnd = prng(3);
    const s: Shape = { v6: false, proto: TCP, ipHeader: 20, l4Header: 20, payload: Buffer.alloc(5000, 1), mss: 1000 };
    const { pkt, l4Off } = buildPacket(rnd, s);
    const t = newSegmentTarget(1 << 16, 64);
    const cut = (h: VnetHeader, p: Buffer = pkt, len = p.length): number | string => segmentSuperPacket(h, p, 0, len, t);
    const h = (): VnetHeader => gsoHeader(s, l4Off);
    expect(cut(Object.assign(h(), { gsoType: VIRTIO_NET_HDR_GSO_TCPV6 })), 'TCPV6 on an IPv4 packet').to.equal('malformed');
    expect(cut(Object.assign(h(), { gsoType: VIRTIO_NET_HDR_GSO_UDP_L4 })), 'UDP_L4 on a TCP packet').to.equal('malformed');
    expect(cut(Object.assign(h(), { gsoSize: 0 })), 'gso_size 0').to.equal('malformed');
    expect(cut(h(), pkt, pkt.length - 1), 'shorter than its IP total length').to.equal('malformed');
    expect(cut(Object.assign(h(), { gsoType: VIRTIO_NET_HDR_GSO_UDP })), 'UFO').to.equal('unsupported');
    expect(cut(Object.assign(h(), { gsoType: 9 })), 'unknown GSO type').to.equal('unsupported');
    const frag = Buffer.from(pkt);
    frag.writeUInt16BE(0x2000, 6);
    expect(cut(h(), frag), 'an IP fragment').to.equal('malformed');
    const badOffset = Buffer.from(pkt);
    badOffset[l4Off + 12] = 0xf0; // 60-byte TCP header claimed... still inside; make it exceed a tiny packet
    expect(cut(h(), badOffset.subarray(0, 70), 70), 'TCP header past the end').to.equal('malformed');
    expect(cut(Object.assign(h(), { gsoType: VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN })), 'ECN bit: still TCPV4').to.equal(5);
    expect(t.count).to.equal(5);
  });

  it('a plain packet (GSO_NONE) is copied with its partial checksum finished, as the kernel does', function () {
    const rnd = prng(5);
    for (let iter = 0; iter < 200; iter++) {
      const s = randomShape(rnd);
      s.payload = s.payload.subarray(0, Math.min(s.payload.length, 1400));
      const { pkt, l4Off } = buildPacket(rnd, s);
      const field = l4Off + (s.proto === TCP ? 16 : 6);
      // The kernel leaves the folded pseudo-header sum (not complemented) in the field.
      const l4Len = pkt.length - l4Off;
      pkt.writeUInt16BE(naiveOnesSum(pseudoHeader(pkt, s.v6, s.proto, l4Len)), field);
      if (!s.v6) pkt.writeUInt16BE(0, 10);
      const hdr = gsoHeader(s, l4Off);
      hdr.gsoType = VIRTIO_NET_HDR_GSO_NONE;
      resetSegmentTarget(target);
      expect(segmentSuperPacket(hdr, pkt, 0, pkt.length, target)).to.equal(1);
      expect(hdr.flags, 'the caller header is left as it was').to.equal(VIRTIO_NET_HDR_F_NEEDS_CSUM);
      const out = target.buffer.subarray(target.offsets[0]!, target.offsets[0]! + target.lengths[0]!);
      expect(naiveOnesSum(pseudoHeader(out, s.v6, s.proto, l4Len), out.subarray(l4Off)), `case ${iter}: checksum`).to.equal(0xffff);
      // In place, the same result; the flag is then cleared.
      expect(completeChecksum(hdr, pkt, 0, pkt.length)).to.equal(true);
      expect(pkt.equals(out)).to.equal(true);
      expect(hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM).to.equal(0);
      expect(completeChecksum(hdr, pkt, 0, pkt.length), 'nothing left to do').to.equal(true);
      expect(pkt.equals(out)).to.equal(true);
    }
  });

  it('completeChecksum refuses offsets outside the packet and leaves it untouched', function () {
    const pkt = Buffer.alloc(60, 7);
    const hdr = Object.assign(newVnetHeader(), { flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart: 50, csumOffset: 9 });
    expect(completeChecksum(hdr, pkt, 0, 60)).to.equal(false);
    expect(pkt.every((b) => b === 7)).to.equal(true);
    expect(hdr.flags).to.equal(VIRTIO_NET_HDR_F_NEEDS_CSUM);
  });
});
