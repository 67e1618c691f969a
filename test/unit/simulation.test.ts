// The real membership code of many nodes over the in-memory transport and a virtual clock
// (src/bench/simulate): the mesh converges, stays converged, heals after churn, and between
// tunmesh nodes keepalive_rate bounds each node's keep-alive exchanges however large the mesh.
import { expect } from 'chai';
import { simulate } from '../../src/bench/simulate/simulate.js';
import { growthExponent } from '../../src/bench/simulate/simulate.js';

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
