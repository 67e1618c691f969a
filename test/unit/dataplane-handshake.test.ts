import { expect } from 'chai';
import { Duplex, PassThrough } from 'node:stream';
import { acceptUpgrade, parseUpgrade, refuseUpgrade, requestUpgrade } from '../../src/dataplane/fast/handshake.js';
import { FAST_PATH_UPGRADE, FAST_PATH_UPGRADE_V2 } from '../../src/protocol/fast-path.js';

/** One end of a connection: what is written to it collects in `sent`; push() delivers what the far end says. */
function wireEnd(): Duplex & { sent: () => string } {
  const chunks: Buffer[] = [];
  const end = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk);
      done();
    },
  });
  return Object.assign(end, { sent: () => Buffer.concat(chunks).toString('latin1') });
}

describe('fast path upgrade (both halves)', () => {
  it('takes the sender from the path and the framing from the Upgrade token', () => {
    expect(parseUpgrade('/tunmesh/fastpath/v1/abc', FAST_PATH_UPGRADE, false)).to.deep.equal({ peerId: 'abc', version: 1 });
    expect(parseUpgrade('/tunmesh/fastpath/v1/abc', 'Tunmesh-Fastpath/1', false), 'tokens are case-insensitive').to.deep.include({ version: 1 });
    expect(parseUpgrade('/tunmesh/fastpath/v1/abc', FAST_PATH_UPGRADE_V2, true)).to.deep.equal({ peerId: 'abc', version: 2 });
  });

  it('refuses v2 without our offloads, other tokens, and paths without exactly one sender id', () => {
    expect(parseUpgrade('/tunmesh/fastpath/v1/abc', FAST_PATH_UPGRADE_V2, false)).to.equal(null);
    expect(parseUpgrade('/tunmesh/fastpath/v1/abc', 'websocket', true)).to.equal(null);
    expect(parseUpgrade('/tunmesh/fastpath/v1/abc', undefined, true)).to.equal(null);
    expect(parseUpgrade('/tunmesh/fastpath/v1/', FAST_PATH_UPGRADE, true)).to.equal(null);
    expect(parseUpgrade('/tunmesh/fastpath/v1/a/b', FAST_PATH_UPGRADE, true)).to.equal(null);
    expect(parseUpgrade('/other/abc', FAST_PATH_UPGRADE, true)).to.equal(null);
    expect(parseUpgrade(undefined, FAST_PATH_UPGRADE, true)).to.equal(null);
  });

  it("the sender's request is what the receiver parses, and the receiver's 101 is what the sender reads", async () => {
    const wire = wireEnd();
    const status = requestUpgrade(wire, { selfId: 'me', authority: '[2001:2::1]:4567', version: 2, authorization: 'Bearer: t' });
    const request = wire.sent();
    expect(request).to.match(/^GET \/tunmesh\/fastpath\/v1\/me HTTP\/1\.1\r\n/);
    expect(request).to.contain('Host: [2001:2::1]:4567\r\n').and.contain(`Upgrade: ${FAST_PATH_UPGRADE_V2}\r\n`).and.contain('Authorization: Bearer: t\r\n');
    const path = /^GET (\S+)/.exec(request)![1];
    const token = /Upgrade: (\S+)/.exec(request)![1];
    const ask = parseUpgrade(path, token, true)!;
    const answer = new PassThrough();
    acceptUpgrade(answer, ask.version);
    wire.push(answer.read() as Buffer);
    expect(await status).to.equal(101);
  });

  it('a refusal carries the status and the JSON reason, and the sender reads its status', async () => {
    const wire = wireEnd();
    const status = requestUpgrade(wire, { selfId: 'me', authority: 'h:1', version: 1, authorization: 'x' });
    const refusal = new PassThrough();
    refuseUpgrade(refusal, 403, 'denied');
    const text = String(refusal.read());
    expect(text).to.match(/^HTTP\/1\.1 403 Forbidden\r\n/);
    expect(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4))).to.deep.equal({ error: 'Forbidden', reason: 'denied' });
    wire.push(Buffer.from(text));
    expect(await status).to.equal(403);
  });
});
