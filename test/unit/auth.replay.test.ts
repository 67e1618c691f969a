import { expect } from 'chai';

import { ReplayCache } from '../../src/auth/index.js';

describe('auth replay cache', () => {
  it('accepts a token once and refuses it again while it could still verify', () => {
    const cache = new ReplayCache();
    expect(cache.checkAndRemember('h.p.AAAA', 130, 100)).to.equal(true);
    expect(cache.checkAndRemember('h.p.AAAA', 130, 129)).to.equal(false);
  });

  it('forgets a token once it can no longer verify', () => {
    const cache = new ReplayCache();
    cache.checkAndRemember('h.p.AAAA', 130, 100);
    expect(cache.checkAndRemember('h.p.BBBB', 200, 131)).to.equal(true);
    expect(cache.size).to.equal(1);
    expect(cache.checkAndRemember('h.p.AAAA', 130, 131)).to.equal(true);
  });

  it('remembers a token skewSeconds longer than the time passed in', () => {
    const cache = new ReplayCache({ skewSeconds: 10 });
    cache.checkAndRemember('h.p.AAAA', 130, 100);
    expect(cache.checkAndRemember('h.p.AAAA', 130, 140)).to.equal(false);
    expect(cache.checkAndRemember('h.p.AAAA', 130, 141)).to.equal(true);
  });

  it('keeps at most maxEntries tokens, evicting the oldest', () => {
    const cache = new ReplayCache({ maxEntries: 3 });
    for (const sig of ['AAAA', 'BBBB', 'CCCC', 'DDDD']) {
      expect(cache.checkAndRemember(`h.p.${sig}`, 1000, 100)).to.equal(true);
    }
    expect(cache.size).to.equal(3);
    // The evicted oldest token is the documented cost of the bound: it is accepted again.
    expect(cache.checkAndRemember('h.p.AAAA', 1000, 100)).to.equal(true);
    expect(cache.checkAndRemember('h.p.DDDD', 1000, 100)).to.equal(false);
  });

  it('stays bounded under a flood of distinct tokens', () => {
    const cache = new ReplayCache({ maxEntries: 100 });
    for (let i = 0; i < 10_000; i++) {
      cache.checkAndRemember(`h.p.${Buffer.from(String(i)).toString('base64url')}`, 1000, 100);
    }
    expect(cache.size).to.equal(100);
  });
});
