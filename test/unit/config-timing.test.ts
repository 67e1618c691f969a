import { expect } from 'chai';
import { checkTimingBounds, parseTiming, resolveTiming, TimingError, timingSeconds } from '../../src/config/timing.js';
import { cidrWithin, tryParseIpv4Cidr as parseIpv4Cidr } from '../../src/tun/ipv4.js';

describe('config timing values', () => {
  it('takes a plain number as seconds', () => {
    expect(timingSeconds(1.5)).to.equal(1.5);
    expect(timingSeconds(3600)).to.equal(3600);
  });

  it('reads the unit suffixes s, m, h and d (and a bare numeric string)', () => {
    expect(timingSeconds('30s')).to.equal(30);
    expect(timingSeconds('5m')).to.equal(300);
    expect(timingSeconds('1h')).to.equal(3600);
    expect(timingSeconds('0.01d', { min: 0, max: 86400 })).to.equal(864);
    expect(timingSeconds('2.5')).to.equal(2.5);
  });

  it('draws a range value inside the range, with the suffix applying to both ends', () => {
    for (let i = 0; i < 200; i++) {
      const v = timingSeconds('10..20s');
      expect(v).to.be.within(10, 20);
    }
    expect(timingSeconds('1..2m', { min: 0, max: 3600 }, () => 0.5)).to.equal(90);
  });

  it('draws differently on different loads (the draw is random)', () => {
    const seen = new Set(Array.from({ length: 20 }, () => timingSeconds('10..20s')));
    expect(seen.size).to.be.greaterThan(1);
  });

  it('keeps the range ends separately until resolved', () => {
    expect(parseTiming('10..20s')).to.deep.equal({ low: 10, high: 20 });
    expect(resolveTiming({ low: 10, high: 20 }, () => 0)).to.equal(10);
  });

  for (const bad of ['5x', 'abc', '', '1..2..3s', '20..10s', 's', '10s..20s', '-']) {
    it(`rejects the malformed timing ${JSON.stringify(bad)}`, () => {
      expect(() => parseTiming(bad)).to.throw(TimingError);
    });
  }

  it('rejects values that are neither numbers nor strings', () => {
    expect(() => parseTiming(null)).to.throw(TimingError, /null/);
    expect(() => parseTiming([1])).to.throw(TimingError, /list/);
    expect(() => parseTiming(Number.NaN)).to.throw(TimingError);
  });

  it('checks both ends of a range against the bounds, so the result does not depend on the draw', () => {
    expect(() => checkTimingBounds(parseTiming('10..5000s'), { min: 0.5, max: 3600 })).to.throw(TimingError, /10\.\.5000 s is outside the allowed 0\.5\.\.3600 s/);
    expect(() => checkTimingBounds(parseTiming('0.1..1'), { min: 0.5, max: 3600 })).to.throw(TimingError);
    expect(() => timingSeconds(0.4)).to.throw(TimingError, /outside/);
    expect(() => timingSeconds('2h')).to.throw(TimingError, /7200 s/);
    expect(timingSeconds(0.01, { min: 0.01, max: 3600 })).to.equal(0.01);
  });
});

describe('config IPv4 CIDRs', () => {
  it('parses an address with its prefix and derives the network', () => {
    const c = parseIpv4Cidr('198.19.1.7/24');
    expect(c).to.deep.include({ prefix: 24, network: 0xc6130100, address: 0xc6130107 });
  });

  for (const bad of ['198.19.1.0/33', '198.19.1.256/24', '198.19.1.0', 'fd00::/64', '198.19.1/24', ' /24', '198.019.1.0/24']) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      expect(parseIpv4Cidr(bad)).to.equal(null);
    });
  }

  it('knows when a node address lies inside the mesh network', () => {
    const net = parseIpv4Cidr('198.19.0.0/16')!;
    expect(cidrWithin(net, parseIpv4Cidr('198.19.1.1/24')!)).to.equal(true);
    expect(cidrWithin(net, parseIpv4Cidr('198.20.1.1/24')!)).to.equal(false);
    expect(cidrWithin(net, parseIpv4Cidr('198.19.1.1/8')!), 'a wider prefix spills out').to.equal(false);
    expect(cidrWithin(parseIpv4Cidr('0.0.0.0/0')!, parseIpv4Cidr('198.18.0.1/32')!)).to.equal(true);
  });
});
