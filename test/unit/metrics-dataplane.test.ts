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

  it('what the hot path adds to its handles is in every read of the registry, once', async () => {
    const registry = new Registry();
    const m = new DataPlaneMetrics(registry);
    const peer = m.forPeer('p1');
    peer.txPackets.inc(2);
    peer.txBytes.inc(168);
    m.readFromTun(2, 168, 1);
    m.drop('queue_full', 3);
    m.superPackets('rx', 1);
    let text = await registry.metrics();
    expect(text).to.match(/tunmesh_peer_tx_packets_total\{peer="p1"\} 2\n/);
    expect(text).to.match(/tunmesh_peer_tx_bytes_total\{peer="p1"\} 168\n/);
    expect(text).to.match(/tunmesh_peer_rx_packets_total\{peer="p1"\} 0\n/);
    expect(text).to.match(/tunmesh_tun_read_packets_total 2\n/);
    expect(text).to.match(/tunmesh_tun_read_ipv6_packets_total 1\n/);
    expect(text).to.match(/tunmesh_dropped_packets_total\{reason="queue_full"\} 3\n/);
    expect(text).to.match(/tunmesh_offload_super_packets_total\{direction="rx"\} 1\n/);
    // A second read adds nothing twice; later additions add up.
    peer.txPackets.inc(5);
    text = await registry.metrics();
    expect(text).to.match(/tunmesh_peer_tx_packets_total\{peer="p1"\} 7\n/);
    expect(text).to.match(/tunmesh_tun_read_packets_total 2\n/);
    const json = await registry.getMetricsAsJSON();
    const tx = json.find((x) => x.name === 'tunmesh_peer_tx_packets_total');
    expect(tx?.values).to.deep.equal([{ value: 7, labels: { peer: 'p1' } }]);
  });

  it('exports every drop reason from the start, at zero', async () => {
    const registry = new Registry();
    new DataPlaneMetrics(registry);
    const text = await registry.metrics();
    expect(text).to.match(/tunmesh_dropped_packets_total\{reason="no_route"\} 0/);
    expect(text).to.match(/tunmesh_dropped_packets_total\{reason="oversized"\} 0/);
  });
});
