import { expect } from 'chai';
import { runSegmentBench, segmentTable } from '../../src/bench/segment.js';

describe('bench --segment', function () {
  it('cuts 64 KB super-packets into packets of at most 1400 bytes and tabulates the rates', function () {
    const rows = runSegmentBench({ packetLen: 1400, rounds: 1, roundMs: 5 });
    // 65535 - 52 header bytes in 1348-byte TCP payloads, 65535 - 72 in 1328, 65535 - 28 in 1372.
    expect(rows.map((r) => r.segments)).to.deep.equal([49, 50, 48, 1]);
    for (const r of rows) expect(r.gbitPerSecond).to.be.greaterThan(0);
    const table = segmentTable(rows);
    expect(table).to.include('TCP/IPv4 65535 B -> 1400 B');
    expect(table.split('\n')).to.have.length(6);
  });
});
