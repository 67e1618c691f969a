import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { DataPlaneError } from '../../src/dataplane/errors.js';
import {
  decodeLegacyPacket,
  encodeLegacyPacket,
  internalStamp,
  rubyBase64,
} from '../../src/dataplane/legacy/packet.js';

const SOURCE = '1b4e28ba-2fa1-41d2-883f-0016d3cca427';

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof DataPlaneError) return err.reason;
    throw err;
  }
  return 'accepted';
}

describe('legacy Packet JSON v3', () => {
  const data = Buffer.from(Array.from({ length: 100 }, (_, i) => (i * 37) & 0xff));
  // 2^61 + 2^10: an exact double whose shortest JS spelling ("2305843009213695000") is not its value.
  const stamp = 2 ** 61 + 2 ** 10;

  it('lays base64 out as Ruby Base64.encode64: 60 characters a line and a trailing newline', () => {
    const b64 = rubyBase64(data);
    const lines = b64.split('\n');
    expect(lines.at(-1)).to.equal('');
    expect(lines.slice(0, -1).map((l) => l.length)).to.deep.equal([60, 60, 16]);
    expect(lines.join('')).to.equal(data.toString('base64'));
    expect(rubyBase64(Buffer.alloc(45))).to.equal('A'.repeat(60) + '\n');
  });

  it('signs packet bytes + ethertype + exact stamp digits + source id with md5', () => {
    const text = encodeLegacyPacket(data, SOURCE, stamp);
    expect(text).to.contain('"internal_stamp":2305843009213694976');
    const expected = createHash('md5')
      .update(Buffer.concat([data, Buffer.from('2048' + '2305843009213694976' + SOURCE)]))
      .digest('hex');
    const obj = JSON.parse(text) as Record<string, unknown>;
    expect(obj['md5']).to.equal(expected);
    expect(obj['version']).to.equal(3);
    expect(obj['ethertype']).to.equal(2048);
    expect(obj['source_node_id']).to.equal(SOURCE);
  });

  it('decodes what it encodes, from the parsed object and from the text', () => {
    const text = encodeLegacyPacket(data, SOURCE, stamp);
    for (const payload of [text, JSON.parse(text) as unknown]) {
      const p = decodeLegacyPacket(payload);
      expect(p.data).to.deep.equal(data);
      expect(p.internalStamp).to.equal(stamp);
      expect(p.sourceNodeId).to.equal(SOURCE);
    }
  });

  it('stamps int(unix seconds * 2^30)', () => {
    expect(internalStamp(1_700_000_000_500)).to.equal(Math.floor(1_700_000_000.5 * 2 ** 30));
  });

  it('refuses an md5 mismatch, a version other than 3 and a non-object as malformed', () => {
    const obj = JSON.parse(encodeLegacyPacket(data, SOURCE, stamp)) as Record<string, unknown>;
    expect(reasonOf(() => decodeLegacyPacket({ ...obj, md5: '0'.repeat(32) }))).to.equal('malformed');
    expect(reasonOf(() => decodeLegacyPacket({ ...obj, source_node_id: 'someone-else' }))).to.equal('malformed');
    expect(reasonOf(() => decodeLegacyPacket({ ...obj, version: 2 }))).to.equal('malformed');
    expect(reasonOf(() => decodeLegacyPacket('[1,2]'))).to.equal('malformed');
    expect(reasonOf(() => decodeLegacyPacket('{nope'))).to.equal('malformed');
  });
});
