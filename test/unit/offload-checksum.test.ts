import { expect } from 'chai';
import { checksumOf, fold, onesSum } from '../../src/offload/index.js';
import { internetChecksum } from '../../src/tun/ipv4.js';

describe('offload checksum sums', function () {
  it('agree with the byte-by-byte RFC 1071 checksum at any offset and length, over pooled and dedicated buffers alike', function () {
    let seed = 1;
    const rnd = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    // Buffer.from() slices share Node's 8 KB pool (one ArrayBuffer, different byteOffsets); the
    // module caches DataViews per ArrayBuffer, so three kinds of buffer take turns here.
    const pooled = Array.from({ length: 3 }, () => Buffer.from(Array.from({ length: 1500 }, () => rnd(256))));
    const dedicated = Buffer.alloc(70_000);
    for (let i = 0; i < dedicated.length; i++) dedicated[i] = rnd(256);
    for (let iter = 0; iter < 3000; iter++) {
      const buf = iter % 4 === 3 ? dedicated : pooled[iter % 3]!;
      const off = rnd(buf.length);
      const len = rnd(Math.min(buf.length - off, iter % 2 === 0 ? 100 : 70_000) + 1);
      expect(checksumOf(onesSum(buf, off, len)), `offset ${off}, length ${len}`).to.equal(internetChecksum(buf, off, len));
    }
  });

  it('folds with end-around carry and keeps 0xffff (one\'s complement negative zero)', function () {
    expect(fold(0x1fffe)).to.equal(0xffff);
    expect(fold(0xffff)).to.equal(0xffff);
    expect(fold(0x12345678 * 1000)).to.equal(fold(fold(0x12345678) * 1000));
    expect(checksumOf(0)).to.equal(0xffff);
  });
});
