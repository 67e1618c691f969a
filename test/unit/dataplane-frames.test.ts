import { expect } from 'chai';
import { FRAME_HEADER, FRAME_HEADER_V2, FrameReader, MAX_FRAME_V2, writeFrame, writeFrameV2, type FrameSink } from '../../src/dataplane/fast/frames.js';
import { VNET_GSO_TCPV4, VNET_HDR_LEN } from '../../src/tun/vnet.js';

const MTU = 1500;

function framed(packets: Buffer[]): Buffer {
  const out = Buffer.alloc(packets.reduce((n, p) => n + FRAME_HEADER + p.length, 0));
  let at = 0;
  for (const p of packets) at = writeFrame(out, at, p, 0, p.length);
  return out;
}

/** A sink that copies packets out at flush time, proving they are still intact then. */
function collector(): FrameSink & { packets: Buffer[]; flushes: number } {
  let pending: Array<[Buffer, number, number]> = [];
  const sink = {
    packets: [] as Buffer[],
    flushes: 0,
    frame(buf: Buffer, off: number, len: number) {
      pending.push([buf, off, len]);
    },
    flush() {
      sink.flushes++;
      for (const [b, o, l] of pending) sink.packets.push(Buffer.from(b.subarray(o, o + l)));
      pending = [];
    },
  };
  return sink;
}

describe('dataplane frames', () => {
  const packets = [Buffer.alloc(60, 1), Buffer.alloc(1500, 2), Buffer.alloc(4, 3), Buffer.alloc(300, 4)];
  for (const [i, p] of packets.entries()) p.writeUInt32BE(0xdead0000 + i, 0);
  const stream = framed(packets);

  it('reads every frame of a stream delivered in one chunk', () => {
    const sink = collector();
    expect(new FrameReader(MTU).push(stream, sink)).to.equal(true);
    expect(sink.packets).to.deep.equal(packets);
  });

  it('reassembles frames split at every byte position of the stream', () => {
    for (let cut = 1; cut < stream.length; cut++) {
      const sink = collector();
      const reader = new FrameReader(MTU);
      expect(reader.push(stream.subarray(0, cut), sink)).to.equal(true);
      expect(reader.push(stream.subarray(cut), sink)).to.equal(true);
      expect(sink.packets, `cut at ${cut}`).to.deep.equal(packets);
    }
  });

  it('reassembles a stream fed one byte at a time', () => {
    const sink = collector();
    const reader = new FrameReader(MTU);
    for (let i = 0; i < stream.length; i++) expect(reader.push(stream.subarray(i, i + 1), sink)).to.equal(true);
    expect(sink.packets).to.deep.equal(packets);
  });

  it('refuses a zero-length frame and a frame longer than its maxFrame', () => {
    expect(new FrameReader(MTU).push(Buffer.from([0, 0, 1, 2]), collector())).to.equal(false);
    const big = Buffer.alloc(4);
    big.writeUInt16BE(MTU + 1, 0);
    expect(new FrameReader(MTU).push(big, collector())).to.equal(false);
    // ...also when the bad length header itself arrives split.
    const reader = new FrameReader(MTU);
    expect(reader.push(big.subarray(0, 1), collector())).to.equal(true);
    expect(reader.push(big.subarray(1), collector())).to.equal(false);
  });

  it('by default keeps any frame the u16 prefix can describe (the MTU is the receiver\'s policy)', () => {
    const frame = Buffer.alloc(2 + 9000, 0xab);
    frame.writeUInt16BE(9000, 0);
    const sink = collector();
    expect(new FrameReader().push(frame, sink)).to.equal(true);
    expect(sink.packets.map((p) => p.length)).to.deep.equal([9000]);
  });
});

/** A virtio_net_hdr (little-endian fields, as a TUN reads it) followed by `packet`. */
function withHeader(packet: Buffer, gsoType: number, gsoSize: number): Buffer {
  const h = Buffer.alloc(VNET_HDR_LEN);
  h[0] = gsoType === 0 ? 0 : 1; // NEEDS_CSUM with GSO
  h[1] = gsoType;
  h.writeUInt16LE(40, 2); // hdr_len
  h.writeUInt16LE(gsoSize, 4);
  h.writeUInt16LE(20, 6); // csum_start
  h.writeUInt16LE(16, 8); // csum_offset
  return Buffer.concat([h, packet]);
}

function framedV2(payloads: Buffer[]): Buffer {
  const out = Buffer.alloc(payloads.reduce((n, p) => n + FRAME_HEADER_V2 + p.length, 0));
  let at = 0;
  for (const p of payloads) at = writeFrameV2(out, at, p, 0, p.length);
  return out;
}

describe('dataplane frames v2 (offloads: u32 length + virtio_net_hdr)', () => {
  const superPacket = Buffer.alloc(65535);
  for (let i = 0; i < superPacket.length; i++) superPacket[i] = (i * 7) & 0xff;
  const payloads = [withHeader(Buffer.alloc(60, 1), 0, 0), withHeader(superPacket, VNET_GSO_TCPV4, 1448), withHeader(Buffer.alloc(1, 3), 0, 0), withHeader(Buffer.alloc(1500, 4), 0, 0)];
  const stream = framedV2(payloads);

  it('writes a big-endian u32 length of header + packet, then both unchanged', () => {
    const one = framedV2([payloads[1]!]);
    expect(one.readUInt32BE(0)).to.equal(VNET_HDR_LEN + 65535);
    expect(one.subarray(FRAME_HEADER_V2).equals(payloads[1]!)).to.equal(true);
  });

  it('reads a 64 KB super-packet frame whole, with its header, among small ones', () => {
    const sink = collector();
    expect(new FrameReader(MAX_FRAME_V2, 2).push(stream, sink)).to.equal(true);
    expect(sink.packets).to.deep.equal(payloads);
  });

  it('reassembles frames cut at every position around the headers and inside the super-packet', () => {
    const cuts: number[] = [];
    for (let c = 1; c < 200; c++) cuts.push(c);
    for (let c = 1; c < stream.length; c += 997) cuts.push(c);
    for (let c = stream.length - 1600; c < stream.length; c += 7) cuts.push(c);
    for (const cut of cuts) {
      const sink = collector();
      const reader = new FrameReader(MAX_FRAME_V2, 2);
      expect(reader.push(stream.subarray(0, cut), sink)).to.equal(true);
      expect(reader.push(stream.subarray(cut), sink)).to.equal(true);
      expect(sink.packets.length, `cut at ${cut}`).to.equal(payloads.length);
      expect(sink.packets, `cut at ${cut}`).to.deep.equal(payloads);
    }
  });

  it('reassembles a stream fed in 3-byte chunks', () => {
    const sink = collector();
    const reader = new FrameReader(MAX_FRAME_V2, 2);
    for (let i = 0; i < stream.length; i += 3) expect(reader.push(stream.subarray(i, i + 3), sink)).to.equal(true);
    expect(sink.packets).to.deep.equal(payloads);
  });

  it('takes the largest frame (header + 64 KB IPv6 super-packet) and refuses one byte more', () => {
    const max = Buffer.alloc(FRAME_HEADER_V2 + MAX_FRAME_V2, 5);
    max.writeUInt32BE(MAX_FRAME_V2, 0);
    const sink = collector();
    expect(new FrameReader(MAX_FRAME_V2, 2).push(max, sink)).to.equal(true);
    expect(sink.packets.map((p) => p.length)).to.deep.equal([MAX_FRAME_V2]);
    const over = Buffer.alloc(8);
    over.writeUInt32BE(MAX_FRAME_V2 + 1, 0);
    expect(new FrameReader(MAX_FRAME_V2, 2).push(over, collector())).to.equal(false);
  });

  it('refuses malformed lengths: zero, a header without a packet, a huge u32, also split', () => {
    for (const len of [0, 1, VNET_HDR_LEN, 0xffffffff, 0x80000000]) {
      const b = Buffer.alloc(FRAME_HEADER_V2 + 16);
      b.writeUInt32BE(len, 0);
      expect(new FrameReader(MAX_FRAME_V2, 2).push(b, collector()), `length ${len}`).to.equal(false);
      const reader = new FrameReader(MAX_FRAME_V2, 2);
      expect(reader.push(b.subarray(0, 3), collector())).to.equal(true);
      expect(reader.push(b.subarray(3), collector()), `length ${len}, split`).to.equal(false);
    }
  });

  it('a v1 reader does not take a v2 stream as valid frames of the same packets', () => {
    const sink = collector();
    const ok = new FrameReader(undefined, 1).push(stream, sink);
    // The u32's high half reads as a zero-length v1 frame: malformed, the channel closes.
    expect(ok).to.equal(false);
    expect(sink.packets).to.deep.equal([]);
  });
});
