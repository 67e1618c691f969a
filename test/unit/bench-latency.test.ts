import { expect } from 'chai';
import YAML from 'yaml';
import type { SockperfResult } from '../../src/bench/sockperf.js';
import { nebulaConfigYaml } from '../../src/bench/nebula.js';
import { latencyTable, targetsTable } from '../../src/bench/latency-table.js';
import type { LatencyResult } from '../../src/bench/latency.js';

describe('bench latency: nebula config', () => {
  it('has a static host map, no lighthouse, the listen address and device given', () => {
    const text = nebulaConfigYaml({
      caPath: '/t/ca.crt',
      certPath: '/t/host-0.crt',
      keyPath: '/t/host-0.key',
      listenAddress: '198.18.1.1',
      peerMeshAddress: '198.19.3.2',
      peerUnderlayAddress: '198.18.1.2',
      port: 4242,
      device: 'nbab12a',
      mtu: 1300,
    });
    const c = YAML.parse(text) as Record<string, Record<string, unknown>>;
    expect(c.static_host_map).to.deep.equal({ '198.19.3.2': ['198.18.1.2:4242'] });
    expect(c.lighthouse).to.include({ am_lighthouse: false });
    expect(c.lighthouse?.hosts).to.deep.equal([]);
    expect(c.listen).to.deep.equal({ host: '198.18.1.1', port: 4242 });
    expect(c.tun).to.include({ dev: 'nbab12a', mtu: 1300 });
    expect(c.pki).to.deep.equal({ ca: '/t/ca.crt', cert: '/t/host-0.crt', key: '/t/host-0.key' });
  });
});

describe('bench latency: tables', () => {
  const pp = (p50Us: number, p99Us: number): SockperfResult => ({ measure: 'round-trip', observations: 1000, perSecond: 1e6 / p50Us, dropped: 0, avgUs: p50Us, p50Us, p99Us, p999Us: p99Us * 2, maxUs: p99Us * 3 });
  const row = (name: LatencyResult['name'], p50Us: number, p99Us: number, loadedP99Us: number): LatencyResult => ({
    name,
    config: `${name} config`,
    errors: [],
    ping: { medianMs: p50Us / 100, p99Ms: p99Us / 100, count: 100, lost: 0 },
    tcp: pp(p50Us, p99Us),
    udp: pp(p50Us, p99Us),
    rr1: { connections: 1, size: 64, transactions: 5000, seconds: 5, perSecond: 1000 },
    rr16: { connections: 16, size: 64, transactions: 50000, seconds: 5, perSecond: 10000 },
    idleNode: {
      tcp: { connections: 1, size: 64, transactions: 100, seconds: 5, perSecond: 20, rttMedianMs: p50Us / 250, rttP99Ms: p99Us / 250 },
      tls: { connections: 1, size: 64, transactions: 100, seconds: 5, perSecond: 20, rttMedianMs: p50Us / 200, rttP99Ms: p99Us / 200 },
    },
    loaded: { tcp: pp(p50Us * 2, loadedP99Us), bulkMbps: 900 },
  });

  it('one row per measured scenario with its config, in ms, and the loaded/idle ratio', () => {
    const t = latencyTable([row('veth', 20, 40, 60), row('tunmesh', 100, 300, 600), { name: 'nebula', config: '', skipped: 'nebula not installed', errors: [] }]);
    const lines = t.split('\n');
    expect(lines).to.have.length(4);
    expect(lines[3]).to.match(/^\| tunmesh\s+\| tunmesh config \|\s+1\.000 \|\s+3\.000 \|\s+0\.100 \|\s+0\.300 \|\s+0\.600 \|/);
    expect(lines[3]).to.match(/\|\s+1000 \|\s+10000 \|\s+0\.400 \|\s+0\.500 \|\s+0\.600 \|\s+2\.00 \|\s+900 \|$/);
  });

  it('tunmesh against nebula: met or missed per target, n/a without nebula', () => {
    const t = targetsTable([row('tunmesh', 100, 300, 1200), row('nebula', 80, 250, 500)]);
    expect(t).to.match(/\| TCP ping-pong p50 \/ nebula\s+\|\s+<= 1 \|\s+1\.25 \(missed\) \|/);
    expect(t).to.match(/\| TCP ping-pong p99 \/ nebula\s+\|\s+<= 1\.5 \|\s+1\.20 \(met\) \|/);
    expect(t).to.match(/\| TCP ping-pong p99 under bulk \/ idle p99\s+\|\s+<= 3 \|\s+4\.00 \(missed\) \|/);
    expect(targetsTable([row('tunmesh', 100, 300, 600)])).to.match(/idle ping median \/ nebula\s+\|\s+<= 1 \|\s+n\/a \|/);
  });
});
