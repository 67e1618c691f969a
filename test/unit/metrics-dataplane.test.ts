import { expect } from 'chai';
import { Registry } from 'prom-client';
import { DataPlaneMetrics } from '../../src/dataplane/metrics.js';

describe('data-plane metrics', () => {
  it('forgets every per-peer series of a peer that left (labels stay bounded)', async () => {
    const registry = new Registry();
    const m = new DataPlaneMetrics(registry);
    m.forPeer('gone').txPackets.inc(3);
    m.forPeer('gone').channelUp.set(1);
    m.reconnect('gone');
    m.forgetPeer('gone');
    const text = await registry.metrics();
    expect(text).to.not.contain('peer="gone"');
  });

  it('exports every drop reason from the start, at zero', async () => {
    const registry = new Registry();
    new DataPlaneMetrics(registry);
    const text = await registry.metrics();
    expect(text).to.match(/tunmesh_dropped_packets_total\{reason="no_route"\} 0/);
    expect(text).to.match(/tunmesh_dropped_packets_total\{reason="oversized"\} 0/);
  });
});
