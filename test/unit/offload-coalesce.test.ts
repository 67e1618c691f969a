// Software GRO (src/offload/coalesce.ts): consecutive TCP segments merged into one super-packet.
// The strongest check uses the independent direction: a merged super-packet, cut again by the
// software segmenter (tested against the kernel's own segmentation), must give back the very
// segments that went in, byte for byte; segment checksums are checked by a naive verifier. Then
// what must not be merged: PSH in the middle, a gap, other options, another flow, non-TCP, caps.
import { expect } from 'chai';
import { Coalescer, type CoalesceSink } from '../../src/offload/coalesce.js';
import { MAX_GRO_SEGMENTS } from '../../src/tun/vnet.js';
import { newSegmentTarget, newVnetHeader, readVnetHeader, segmentSuperPacket, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_NONE, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_TCPV6 } from '../../src/offload/index.js';
import { VNET_HDR_LEN } from '../../src/tun/vnet.js';
import { naiveOnesSum } from '../helpers/checksum.js';

const ACK = 0x10;
const PSH = 0x08;

interface Seg {
  v6?: boolean;
  seq: number;
  id?: number;
  payload: number;
  flags?: number;
  /** TCP option bytes (a multiple of 4). */
  options?: Buffer;
  sport?: number;
  fill?: number;
}

/** A TCP segment with correct IPv4/TCP checksums (computed naively here). */
function segment(s: Seg): Buffer {
  const ipHl = s.v6 ? 40 : 20;
  const thl = 20 + (s.options?.length ?? 0);
  const len = ipHl + thl + s.payload;
  const p = Buffer.alloc(len);
  if (s.v6) {
    p.writeUInt32BE(0x60000000, 0);
    p.writeUInt16BE(thl + s.payload, 4);
    p[6] = 6;
    p[7] = 64;
    Buffer.from('20010002000001000000000000000001', 'hex').copy(p, 8);
    Buffer.from('20010002000001000000000000000002', 'hex').copy(p, 24);
  } else {
    p[0] = 0x45;
    p.writeUInt16BE(len, 2);
    p.writeUInt16BE(s.id ?? 0, 4);
    p[6] = 0x40; // DF
    p[8] = 64;
    p[9] = 6;
    Buffer.from([198, 19, 0, 1, 198, 19, 0, 2]).copy(p, 12);
    p.writeUInt16BE(~naiveOnesSum(p.subarray(0, 20)) & 0xffff, 10);
  }
  const t = ipHl;
  p.writeUInt16BE(s.sport ?? 40000, t);
  p.writeUInt16BE(5201, t + 2);
  p.writeUInt32BE(s.seq >>> 0, t + 4);
  p.writeUInt32BE(777, t + 8);
  p[t + 12] = (thl / 4) << 4;
  p[t + 13] = s.flags ?? ACK;
  p.writeUInt16BE(502, t + 14);
  s.options?.copy(p, t + 20);
  for (let i = 0; i < s.payload; i++) p[t + thl + i] = (s.fill ?? 0) + i * 7;
  const pseudo = Buffer.alloc(s.v6 ? 40 : 12);
  if (s.v6) {
    p.copy(pseudo, 0, 8, 40);
    pseudo.writeUInt32BE(thl + s.payload, 32);
    pseudo[39] = 6;
  } else {
    p.copy(pseudo, 0, 12, 20);
    pseudo[9] = 6;
    pseudo.writeUInt16BE(thl + s.payload, 10);
  }
  p.writeUInt16BE(~naiveOnesSum(pseudo, p.subarray(t)) & 0xffff, t + 16);
  return p;
}

/** A burst: `n` segments of `mss` from seq 1000 (ids 100..), the last `last` bytes long and with PSH. */
function burst(n: number, mss: number, last: number, o: { v6?: boolean; options?: Buffer } = {}): Buffer[] {
  return Array.from({ length: n }, (_, i) =>
    segment({ v6: o.v6, options: o.options, seq: 1000 + i * mss, id: 100 + i, payload: i === n - 1 ? last : mss, flags: i === n - 1 ? ACK | PSH : ACK, fill: i }),
  );
}

/** Runs packets through a coalescer (as one chunk); returns what was written, header and packet apart. */
function coalesce(packets: Buffer[]): { out: Array<{ hdr: Buffer; pkt: Buffer }>; merged: number; superPackets: number } {
  const out: Array<{ hdr: Buffer; pkt: Buffer }> = [];
  const sink: CoalesceSink = {
    add(buf, off, len) {
      out.push({ hdr: Buffer.from(buf.subarray(off, off + VNET_HDR_LEN)), pkt: Buffer.from(buf.subarray(off + VNET_HDR_LEN, off + len)) });
    },
    write() {},
  };
  const c = new Coalescer(sink);
  for (const p of packets) c.add(p, 0, p.length);
  c.flush();
  return { out, merged: c.merged, superPackets: c.superPackets };
}

/** Cuts a super-packet again with the software segmenter. */
function resegment(hdrBytes: Buffer, pkt: Buffer, maxPacketLen: number): Buffer[] {
  const hdr = readVnetHeader(hdrBytes, 0, newVnetHeader());
  const target = newSegmentTarget(256 * 1024, 128);
  const n = segmentSuperPacket(hdr, pkt, 0, pkt.length, target, maxPacketLen);
  expect(n, 'segmentation of the merged packet').to.be.a('number');
  return Array.from({ length: target.count }, (_, i) => Buffer.from(target.buffer.subarray(target.offsets[i]!, target.offsets[i]! + target.lengths[i]!)));
}

describe('software GRO: consecutive TCP segments merged before the TUN write', () => {
  for (const v6 of [false, true]) {
    it(`merges a burst into one super-packet that segments back to the same bytes (${v6 ? 'IPv6' : 'IPv4'}, timestamps option)`, () => {
      const options = Buffer.from([1, 1, 8, 10, 0, 0, 0, 42, 0, 0, 0, 7]); // NOP NOP TS
      const mss = v6 ? 1388 : 1408;
      const input = burst(20, mss, 333, { v6, options });
      const { out, merged, superPackets } = coalesce(input);
      expect([out.length, merged, superPackets]).to.deep.equal([1, 20, 1]);
      const { hdr, pkt } = out[0]!;
      const h = readVnetHeader(hdr, 0, newVnetHeader());
      const ipHl = v6 ? 40 : 20;
      expect(h).to.deep.include({ flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, gsoType: v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4, gsoSize: mss, csumStart: ipHl, csumOffset: 16, hdrLen: ipHl + 32 });
      expect(pkt.length).to.equal(ipHl + 32 + 19 * mss + 333);
      const again = resegment(hdr, pkt, ipHl + 32 + mss);
      expect(again.length).to.equal(20);
      again.forEach((seg, i) => expect(seg.equals(input[i]!), `segment ${i}`).to.equal(true));
    });
  }

  it('passes a lone segment, and anything not TCP, through unchanged behind an empty header', () => {
    const udp = segment({ seq: 0, payload: 10 });
    udp[9] = 17; // not TCP any more (checksums do not matter here)
    const lone = segment({ seq: 5, id: 9, payload: 100 });
    const { out, merged } = coalesce([lone, udp]);
    expect(merged).to.equal(0);
    expect(out.map((o) => o.pkt.equals(o === out[0] ? lone : udp))).to.deep.equal([true, true]);
    for (const o of out) expect(readVnetHeader(o.hdr, 0, newVnetHeader()).gsoType).to.equal(VIRTIO_NET_HDR_GSO_NONE);
  });

  it('ends a group at PSH, at a short segment, at a gap, at other options and at another flow', () => {
    const mss = 1000;
    const s = (i: number, o: Partial<Seg> = {}): Buffer => segment({ seq: 1000 + i * mss, id: 100 + i, payload: mss, ...o });
    const cases: Array<[string, Buffer[], number[]]> = [
      ['PSH in the middle', [s(0), s(1, { flags: ACK | PSH }), s(2), s(3)], [2, 2]],
      ['a short segment in the middle', [s(0), s(1, { payload: 10 }), s(2)], [2, 1]],
      ['a sequence gap', [s(0), s(1), s(3), s(4)], [2, 2]],
      ['an IP id that does not follow', [s(0), s(1, { id: 500 }), s(2, { id: 501 })], [1, 2]],
      ['other option bytes (a newer timestamp)', [s(0, { options: Buffer.from([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0]) }), s(1, { options: Buffer.from([1, 1, 8, 10, 0, 0, 0, 2, 0, 0, 0, 0]) })], [1, 1]],
      ['two flows interleaved', [s(0), s(0, { sport: 40001 }), s(1), s(1, { sport: 40001 })], [1, 1, 1, 1]],
      ['a SYN/FIN/RST or no ACK', [s(0), s(1, { flags: ACK | 0x01 }), s(2, { flags: 0x02 })], [1, 1, 1]],
    ];
    for (const [what, input, groups] of cases) {
      const { out } = coalesce(input);
      const sizes = out.map((o) => {
        const h = readVnetHeader(o.hdr, 0, newVnetHeader());
        return h.gsoType === VIRTIO_NET_HDR_GSO_NONE ? 1 : Math.ceil((o.pkt.length - 40) / h.gsoSize);
      });
      expect(sizes, what).to.deep.equal(groups);
      // Nothing lost or reordered: the payload bytes come out in the order they went in.
      const payloadIn = Buffer.concat(input.map((p) => p.subarray(40 + (p[32]! >>> 4) * 4 - 20)));
      const payloadOut = Buffer.concat(out.map((o) => o.pkt.subarray(40 + (o.pkt[32]! >>> 4) * 4 - 20)));
      expect(payloadOut.equals(payloadIn), what).to.equal(true);
    }
  });

  it(`stops at ${MAX_GRO_SEGMENTS} segments and at 64 KB of IP packet`, () => {
    const small = coalesce(burst(MAX_GRO_SEGMENTS + 6, 100, 100));
    expect(small.out.length).to.equal(2);
    expect(small.merged).to.equal(MAX_GRO_SEGMENTS + 6);
    const big = coalesce(burst(60, 1448, 1448));
    for (const o of big.out) expect(o.pkt.length).to.be.at.most(65535);
    expect(big.out.length).to.equal(2);
    expect(resegment(big.out[0]!.hdr, big.out[0]!.pkt, 20 + 20 + 1448).length + resegment(big.out[1]!.hdr, big.out[1]!.pkt, 20 + 20 + 1448).length).to.equal(60);
  });
});
