import { expect } from 'chai';
import { RateWindow, type PeerTraffic } from '../../src/status/rates.js';

const traffic = (txBytes: number, rxBytes: number): PeerTraffic => new Map([['p', { txPackets: 0, txBytes, rxPackets: 0, rxBytes, channelsUp: 1 }]]);

describe('per-peer byte rates for tunmesh status', () => {
  it('is zero before there are two samples', () => {
    const w = new RateWindow(10);
    w.add(100, traffic(1000, 0));
    expect(w.rate('p')).to.deep.equal({ txBytesPerSecond: 0, rxBytesPerSecond: 0 });
  });

  it('averages over the window, not the last step (workers report in bursts)', () => {
    const w = new RateWindow(10);
    w.add(100, traffic(0, 0));
    w.add(102, traffic(2000, 400));
    w.add(103, traffic(2000, 400)); // a refresh with no new worker snapshot
    expect(w.rate('p')).to.deep.equal({ txBytesPerSecond: 2000 / 3, rxBytesPerSecond: 400 / 3 });
  });

  it('slides: old samples leave once a newer one is a full window old', () => {
    const w = new RateWindow(10);
    w.add(0, traffic(0, 0));
    w.add(10, traffic(10_000, 0));
    w.add(20, traffic(10_000, 0));
    expect(w.rate('p').txBytesPerSecond).to.equal(0);
  });

  it('counts a peer first seen inside the window from zero', () => {
    const w = new RateWindow(10);
    w.add(0, new Map());
    w.add(4, traffic(800, 0));
    expect(w.rate('p').txBytesPerSecond).to.equal(200);
  });
});
