// The real membership code of many nodes over the in-memory transport and a virtual clock
// (src/bench/simulate): the mesh converges, stays converged, heals after churn, and between
// tunmesh nodes keepalive_rate bounds each node's keep-alive exchanges however large the mesh.
import { expect } from 'chai';
import { growthExponent, simulate, type SimResult } from '../../src/bench/simulate/simulate.js';
import { Census } from '../../src/bench/simulate/census.js';
import { withUrlMemo } from '../../src/bench/simulate/url-memo.js';
import { law } from '../../src/bench/simulate/table.js';

describe('control plane simulation (real membership, in-memory transport, virtual clock)', function () {
  this.timeout(120_000);

  it('40 nodes: full mesh from a cold start, no removals while idle, heals after 10% churn', async () => {
    const r = await simulate(40);
    expect(r.coldSeconds, 'cold start').to.be.a('number');
    expect(r.coldSeconds!).to.be.at.most(60);
    expect(r.steadyRemovals).to.equal(0);
    expect(r.joinedSeconds, 'new nodes known by all').to.be.a('number');
    expect(r.groomedSeconds, 'killed nodes groomed').to.be.a('number');
    // Killed nodes refuse connections: they are groomed before their (stretched) stale threshold.
    const staleThreshold = 30 * (r.effectiveInterval / 5);
    expect(r.groomedSeconds!).to.be.below(staleThreshold);
  });

  it('keepalive_rate bounds the exchanges a node takes part in, and 0 keeps the configured interval', async () => {
    const bounded = await simulate(60, { keepaliveRate: 1 });
    const fixed = await simulate(60, { keepaliveRate: 0 });
    // One exchange is one message from one of its two ends: a node sends about rate * 60 / 2 a minute.
    expect(bounded.steadyMessagesPerNodeMinute).to.be.at.most(1 * 60);
    expect(bounded.effectiveInterval).to.be.closeTo(59, 0.5);
    // 59 peers every 5 s (jittered 0.8..1): about 59 * 12 / 2 exchanges a node starts each minute.
    expect(fixed.steadyMessagesPerNodeMinute).to.be.above(300);
    expect(fixed.steadyRemovals + bounded.steadyRemovals).to.equal(0);
  });

  it('fits growth laws on log-log points', () => {
    expect(growthExponent([{ n: 10, y: 100 }, { n: 100, y: 10_000 }])).to.be.closeTo(2, 1e-9);
    expect(growthExponent([{ n: 10, y: 5 }])).to.equal(null);
  });
});

describe('simulation harness (census, URL memo)', () => {
  it('census: full when every up node knows every other, groomed when no one holds a killed node', () => {
    const c = new Census();
    for (const id of ['a', 'b', 'c']) c.started(id);
    expect(c.full()).to.equal(false);
    for (const [h, p] of [['a', 'b'], ['a', 'c'], ['b', 'a'], ['b', 'c'], ['c', 'a'], ['c', 'b']] as const) c.added(h, p);
    expect(c.full()).to.equal(true);
    c.killed(['c'], (id) => (id === 'c' ? ['a', 'b'] : []));
    expect(c.full(), 'a and b know each other').to.equal(true);
    expect(c.groomed()).to.equal(false);
    c.removed('a', 'c');
    expect(c.groomed()).to.equal(false);
    c.removed('b', 'c');
    expect(c.groomed()).to.equal(true);
    c.started('d');
    expect(c.full()).to.equal(false);
  });

  it('URL memo: one parse per distinct string, same href, counted, the global restored after', async () => {
    const real = globalThis.URL;
    const counts = { calls: 0, parsed: 0 };
    const hrefs = await withUrlMemo(async () => {
      const a = new URL('https://198.18.0.10:4567');
      const b = new URL('https://198.18.0.10:4567');
      const c = new URL('/x', 'https://198.18.0.11:4567');
      expect(() => new URL('not a url')).to.throw(TypeError);
      return [a.href, b.href, c.href];
    }, counts);
    expect(hrefs).to.deep.equal(['https://198.18.0.10:4567/', 'https://198.18.0.10:4567/', 'https://198.18.0.11:4567/x']);
    // Counted: the two equal strings and the invalid one (the one with a base goes straight through).
    expect(counts).to.deep.equal({ calls: 3, parsed: 1 });
    expect(globalThis.URL).to.equal(real);
  });

  it('table: growth laws and convergence fitted over the sizes', () => {
    const r = (n: number, churnSeconds: number | null): SimResult => ({ nodes: n, churnSeconds }) as SimResult;
    expect(law([r(100, 10), r(1000, 100)], (x) => x.churnSeconds)).to.equal('N^1.00');
    expect(law([r(100, 10), r(1000, null)], (x) => x.churnSeconds)).to.equal('n/a');
  });
});
