import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSockperf, SockperfOutputError } from '../../src/bench/sockperf.js';
import { parseRrArgs, parseRrResult, RrError } from '../../src/bench/rr.js';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'sockperf');
const fixture = (name: string): string => readFileSync(join(FIXTURES, name), 'utf8');

describe('bench: sockperf output', () => {
  it('reads round trips from real `sockperf ping-pong --tcp --full-rtt` output (colour codes included)', () => {
    const r = parseSockperf(fixture('ping-pong-tcp-full-rtt.txt'));
    expect(r).to.deep.equal({
      measure: 'round-trip',
      observations: 28164,
      perSecond: 28164 / 1.55,
      dropped: 0,
      avgUs: 55.025,
      p50Us: 53.59,
      p99Us: 74.23,
      p999Us: 104.716,
      maxUs: 2687.815,
    });
  });

  it('says when sockperf reported one-way latency (no --full-rtt: half the round trip)', () => {
    const r = parseSockperf(fixture('ping-pong-udp.txt'));
    expect(r.measure).to.equal('one-way');
    expect(r.p50Us).to.equal(24.867);
    expect(r.p99Us).to.equal(33.805);
    expect(r.p999Us).to.equal(49.779);
    expect(r.observations).to.equal(30639);
  });

  it('fails with a typed error on output without results', () => {
    const refused = 'sockperf: ERROR: Failed to connect to 198.19.1.2:11111 (errno=111 Connection refused)\n';
    expect(() => parseSockperf(refused)).to.throw(SockperfOutputError, /avg-rtt/);
    const noPercentiles = fixture('ping-pong-tcp-full-rtt.txt').replace(/percentile 99\.000[^\n]*\n/, '');
    expect(() => parseSockperf(noPercentiles)).to.throw(SockperfOutputError, /percentile 99\.000/);
  });
});

describe('bench: request/response tool', () => {
  it('parses its arguments with defaults and rejects bad ones', () => {
    expect(parseRrArgs(['client', '--host', '198.19.1.2', '--port', '11113', '--connections', '16'])).to.deep.equal({
      mode: 'client',
      host: '198.19.1.2',
      port: 11113,
      size: 64,
      connections: 16,
      seconds: 5,
      lifetime: 120,
      interval: 0,
    });
    expect(parseRrArgs(['client', '--host', '198.19.1.2', '--port', '1', '--interval', '50', '--tls-ca', 'ca.pem', '--tls-name', 'tunmesh-lab'])).to.include({
      interval: 50,
      tlsCa: 'ca.pem',
      tlsName: 'tunmesh-lab',
    });
    expect(() => parseRrArgs(['server', '--host', '198.19.1.2', '--port', '1', '--tls-cert', 'c.pem'])).to.throw(RrError, /go together/);
    expect(() => parseRrArgs(['client', '--host', 'example', '--port', '1'])).to.throw(RrError, /IP address/);
    expect(() => parseRrArgs(['server', '--host', '198.19.1.2', '--port', '0'])).to.throw(RrError, /--port/);
    expect(() => parseRrArgs(['both'])).to.throw(RrError, /usage/);
  });

  it('reads the client result line, and refuses incomplete ones', () => {
    const line = JSON.stringify({ connections: 1, size: 64, transactions: 40000, seconds: 5, perSecond: 8000 });
    expect(parseRrResult(`noise\n${line}\n`).perSecond).to.equal(8000);
    expect(() => parseRrResult('{"connections":1}')).to.throw(RrError, /incomplete/);
    expect(() => parseRrResult('')).to.throw(RrError, /no result/);
  });
});
