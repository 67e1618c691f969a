import { expect } from 'chai';
import { FRAME_HEADER, FrameReader, writeFrame, type FrameSink } from '../../src/dataplane/frames.js';

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
