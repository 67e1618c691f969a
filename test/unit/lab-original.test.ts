// The lab's pure helpers for mixed meshes: the original's config derived from tunmesh's, its
// registrations document, and the dense-ping parser. (Running real originals: interop tests.)
import { expect } from 'chai';
import { parse } from 'yaml';
import { labNodeConfigYaml, QUICK_TIMING, type LabNodeSpec } from '../../src/lab/node-config.js';
import { originalConfigYaml, parseOriginalRegistrations } from '../../src/lab/original.js';
import { parsePingStream } from '../../src/lab/ping-stream.js';

const SPEC: LabNodeSpec = {
  index: 0,
  underlayAddress: '198.18.0.10',
  meshAddressCidr: '198.19.0.1/24',
  networkCidr: '198.19.0.0/16',
  bootstrapUrls: ['https://198.18.0.11:4567'],
  port: 4567,
  certPath: '/tmp/lab/cert.pem',
  keyPath: '/tmp/lab/key.pem',
  secret: 'a-lab-secret-that-is-long-enough-for-both',
  statusSocket: '/tmp/lab/node0.sock',
  device: 'tm0',
  workers: 1,
  fastPath: true,
  logLevel: 'info',
  timing: QUICK_TIMING,
  firstNode: false,
  legacyInterop: true,
};

describe('lab: the original node config', () => {
  it('is the tunmesh config without the tunmesh: block', () => {
    const tunmesh = parse(labNodeConfigYaml(SPEC)) as Record<string, unknown>;
    const original = parse(originalConfigYaml(labNodeConfigYaml(SPEC))) as Record<string, unknown>;
    expect(Object.keys(tunmesh)).to.deep.equal(['tun_mesh', 'tunmesh']);
    expect(original).to.deep.equal({ tun_mesh: tunmesh.tun_mesh });
  });

  it('has no YAML aliases (the original loads it with YAML.safe_load) and always a base_labels map', () => {
    for (const text of [labNodeConfigYaml(SPEC), originalConfigYaml(labNodeConfigYaml(SPEC))]) {
      expect(text).not.to.match(/[&*]a\d+/);
      const doc = parse(text) as { tun_mesh: { monitoring: { prometheus: { base_labels: unknown } } } };
      expect(doc.tun_mesh.monitoring.prometheus.base_labels).to.deep.equal({});
    }
  });

  it('reads the ids out of the original registrations document', () => {
    const body = JSON.stringify({
      nodes: { 'id-a': { node_info: { id: 'id-a' }, stamp: 1, stale: false }, 'id-b': { node_info: { id: 'id-b' }, stamp: 2, stale: false } },
      node_ids_by_address: {},
    });
    expect(parseOriginalRegistrations(body)).to.deep.equal(['id-a', 'id-b']);
    expect(parseOriginalRegistrations('{"nodes":{},"node_ids_by_address":{}}')).to.deep.equal([]);
    expect(() => parseOriginalRegistrations('{"error":"x"}')).to.throw(/not a registrations document/);
  });
});

describe('lab: dense ping parsing', () => {
  it('counts loss, the longest outage and the echoes still in flight at the deadline', () => {
    const out = [
      'PING 198.19.0.2 (198.19.0.2) 56(84) bytes of data.',
      '[1764496000.100000] 64 bytes from 198.19.0.2: icmp_seq=1 ttl=64 time=10.1 ms',
      '[1764496000.110000] 64 bytes from 198.19.0.2: icmp_seq=2 ttl=64 time=10.2 ms',
      '[1764496000.650000] 64 bytes from 198.19.0.2: icmp_seq=6 ttl=64 time=10.3 ms',
      '[1764496000.660000] 64 bytes from 198.19.0.2: icmp_seq=7 ttl=64 time=10.3 ms',
      '',
      '--- 198.19.0.2 ping statistics ---',
      '8 packets transmitted, 4 received, 50% packet loss, time 70ms',
      'rtt min/avg/max/mdev = 10.100/10.225/10.300/0.083 ms',
    ].join('\n');
    const r = parsePingStream(out, 1);
    expect(r).to.include({ transmitted: 8, received: 4, lost: 4, trailingUnanswered: 1, errors: 0, elapsedMs: 70, exitCode: 1 });
    expect(r.longestGap).to.deep.equal({ packets: 3, seconds: 0.54 });
    expect(r.rtt).to.deep.equal({ min: 10.1, avg: 10.225, max: 10.3, mdev: 0.083 });
    expect(r.summary).not.to.contain('icmp_seq');
  });

  it('reads errors and no RTT when nothing came back', () => {
    const r = parsePingStream('--- x ping statistics ---\n5 packets transmitted, 0 received, +5 errors, 100% packet loss, time 4005ms\n', 1);
    expect(r).to.include({ transmitted: 5, received: 0, lost: 5, errors: 5, trailingUnanswered: 5, elapsedMs: 4005 });
    expect(r.rtt).to.equal(null);
    expect(r.longestGap).to.deep.equal({ packets: 5, seconds: 0 });
  });

  it('refuses output without a summary', () => {
    expect(() => parsePingStream('ping: connect: Network is unreachable\n', 2)).to.throw(/cannot parse ping output \(exit 2\)/);
  });
});
