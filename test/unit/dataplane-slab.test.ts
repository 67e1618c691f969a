import { expect } from 'chai';
import { FRAME_HEADER } from '../../src/dataplane/fast/frames.js';
import { FrameSlab, MAX_RETIRED, RETIRED_IDLE, SLAB_BYTES } from '../../src/dataplane/fast/slab.js';

/** Which slab memory a batch lies in. */
const memoryOf = (batch: Buffer): ArrayBufferLike => batch.buffer;

describe('fast channel slab (FrameSlab)', () => {
  const packet = Buffer.alloc(1000, 7);

  function fill(slab: FrameSlab): Buffer {
    while (slab.fits(packet.length)) slab.append(packet, 0, packet.length);
    return slab.takeBatch();
  }

  it('frames packets behind their u16 length and hands the pending batch out once', () => {
    const slab = new FrameSlab(FRAME_HEADER);
    slab.ensure();
    slab.append(Buffer.from('abc'), 0, 3);
    slab.append(Buffer.from('xyzzy'), 1, 2);
    expect(slab.pending).to.equal(2 + 3 + 2 + 2);
    expect([...slab.takeBatch()]).to.deep.equal([0, 3, 0x61, 0x62, 0x63, 0, 2, 0x79, 0x7a]);
    expect(slab.pending).to.equal(0);
    expect(slab.takeBatch().length, 'nothing twice').to.equal(0);
  });

  it('reuses a full slab once the socket has finished its bytes: two slabs at steady rates', () => {
    const slab = new FrameSlab(FRAME_HEADER);
    slab.ensure();
    const first = memoryOf(fill(slab));
    slab.next(0); // the socket finished everything: the slab just retired comes straight back
    const second = memoryOf(fill(slab));
    expect(second).to.equal(first);
    expect(slab.retiredCount).to.equal(0);
  });

  it('never rewrites a slab the socket still holds: a new one under backpressure, the oldest finished one after', () => {
    const slab = new FrameSlab(FRAME_HEADER);
    slab.ensure();
    const a = memoryOf(fill(slab));
    slab.next(SLAB_BYTES); // the socket holds all of a
    const bBatch = fill(slab);
    expect(memoryOf(bBatch)).to.not.equal(a);
    slab.next(bBatch.length); // the socket holds b only: a is finished
    const c = memoryOf(fill(slab));
    expect(c, 'a is finished: reused').to.equal(a);
  });

  it('keeps at most MAX_RETIRED slabs under sustained backpressure, and RETIRED_IDLE once drained', () => {
    const slab = new FrameSlab(FRAME_HEADER);
    slab.ensure();
    for (let i = 0; i < MAX_RETIRED + 4; i++) {
      fill(slab);
      slab.next(Number.MAX_SAFE_INTEGER); // the socket finished nothing
    }
    expect(slab.retiredCount).to.equal(MAX_RETIRED);
    slab.drained();
    expect(slab.retiredCount).to.equal(RETIRED_IDLE);
  });

  it('replace() starts a fresh slab that no older socket holds; release() gives the memory back', () => {
    const slab = new FrameSlab(FRAME_HEADER);
    slab.ensure();
    const old = memoryOf(fill(slab));
    slab.next(0);
    slab.replace();
    expect(memoryOf(fill(slab))).to.not.equal(old);
    expect(slab.retiredCount).to.equal(0);
    slab.release();
    expect(slab.allocated).to.equal(false);
    expect(slab.fits(1), 'no room without a slab').to.equal(false);
    slab.ensure();
    expect(slab.allocated).to.equal(true);
  });

  it('discardPending() drops an unsent batch and keeps what was handed out', () => {
    const slab = new FrameSlab(FRAME_HEADER);
    slab.ensure();
    slab.append(packet, 0, 10);
    slab.takeBatch();
    slab.append(packet, 0, 20);
    slab.discardPending();
    expect(slab.pending).to.equal(0);
    slab.append(Buffer.from('z'), 0, 1);
    expect([...slab.takeBatch()]).to.deep.equal([0, 1, 0x7a]);
  });
});
