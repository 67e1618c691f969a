import { expect } from 'chai';
import { median, percentile, parsePingTimes, parseIperfTcp, parseIperfUdp, ratio, renderTable, fmt } from '../../src/bench/stats.js';
import { cpuTicksOfStat, ppidOfStat, processTree, cpuSeconds, rssBytes, kbField } from '../../src/bench/proc.js';
import { resultTable, type ScenarioResult } from '../../src/bench/main.js';
import {
  combineFigures,
  figuresOf,
  footprintTables,
  mean,
  parseChildPids,
  parseSmapsRollup,
  processMemory,
  slopeFigures,
  workerPids,
  type FootprintResult,
  type NodeMemory,
} from '../../src/bench/footprint.js';

describe('bench helpers', () => {
  it('median and nearest-rank percentiles', () => {
    expect(median([3, 1, 2])).to.equal(2);
    expect(median([4, 1, 3, 2])).to.equal(2);
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 99)).to.equal(99);
    expect(percentile(xs, 100)).to.equal(100);
    expect(percentile([5], 99)).to.equal(5);
    expect(Number.isNaN(percentile([], 50))).to.equal(true);
  });

  it('parses iputils ping reply times', () => {
    const out = [
      'PING 198.19.1.2 (198.19.1.2) 56(84) bytes of data.',
      '64 bytes from 198.19.1.2: icmp_seq=1 ttl=64 time=0.512 ms',
      '64 bytes from 198.19.1.2: icmp_seq=2 ttl=64 time=1.03 ms',
      '--- 198.19.1.2 ping statistics ---',
      'rtt min/avg/max/mdev = 0.512/0.771/1.030/0.259 ms',
    ].join('\n');
    expect(parsePingTimes(out)).to.deep.equal([0.512, 1.03]);
  });

  it('parses iperf3 TCP and UDP JSON, and reports iperf3 errors', () => {
    const tcp = JSON.stringify({ end: { sum_sent: { retransmits: 7 }, sum_received: { bits_per_second: 1e9, bytes: 1.25e9, seconds: 10 } } });
    expect(parseIperfTcp(tcp)).to.deep.equal({ bitsPerSecond: 1e9, bytes: 1.25e9, seconds: 10, retransmits: 7 });
    const udp = JSON.stringify({ end: { sum: { packets: 1000, lost_packets: 250, seconds: 2 } } });
    expect(parseIperfUdp(udp)).to.deep.equal({ sentPackets: 1000, lostPackets: 250, receivedPackets: 750, seconds: 2, receivedPps: 375 });
    expect(() => parseIperfTcp(JSON.stringify({ error: 'unable to connect to server' }))).to.throw(/unable to connect/);
    expect(() => parseIperfTcp('garbage')).to.throw(/did not print JSON/);
  });

  it('ratio, fmt and the table', () => {
    expect(ratio(3, 2)).to.equal(1.5);
    expect(ratio(3, 0)).to.equal(null);
    expect(ratio(null, 2)).to.equal(null);
    expect(fmt(null)).to.equal('n/a');
    expect(fmt(1.234, 2)).to.equal('1.23');
    const t = renderTable([
      ['a', 'bb'],
      ['ccc', '1'],
    ]);
    expect(t.split('\n')).to.deep.equal(['| a   | bb |', '|:----|---:|', '| ccc |  1 |']);
  });

  it('reads CPU ticks and the parent from /proc/<pid>/stat, even with spaces in the name', () => {
    const stat = '1234 (node (x) y) S 1 1234 1234 0 -1 4194304 100 0 0 0 250 50 7 3 20 0 11 0 100 0 0';
    expect(ppidOfStat(stat)).to.equal(1);
    expect(cpuTicksOfStat(stat)).to.equal(250 + 50 + 7 + 3);
    expect(processTree([process.pid])).to.include(process.pid);
    expect(cpuSeconds([process.pid])).to.be.greaterThan(0);
    expect(rssBytes(process.pid)).to.be.greaterThan(1 << 20);
  });

  it('the result table has ratios to wireguard-go, nebula and veth, n/a where missing', () => {
    const r = (name: ScenarioResult['name'], mbit: number, rtt: number): ScenarioResult => ({
      name,
      pingMs: { median: rtt, p99: rtt * 2, count: 100, lost: 0 },
      tcp1: { bitsPerSecond: mbit * 1e6, bytes: 1e9, seconds: 10, retransmits: 0, cpuSeconds: null, cpuSecondsPerGB: null },
    });
    const table = resultTable([r('veth', 10000, 0.05), r('tunmesh-fast', 500, 0.5), r('wireguard-go', 400, 0.45), r('nebula', 1000, 0.3), { name: 'tunmesh-legacy', error: 'x' }]);
    const row = table.split('\n').find((l) => l.startsWith('| TCP 1 stream'));
    // veth, offload, fast, legacy, wg, nebula | offload/wg, offload/veth, fast/wg, fast/veth, legacy/wg, offload/nebula, fast/nebula
    expect(row).to.match(/\|\s+10000 \|\s+n\/a \|\s+500 \|\s+n\/a \|\s+400 \|\s+1000 \|\s+n\/a \|\s+n\/a \|\s+1\.25 \|\s+0\.05 \|\s+n\/a \|\s+n\/a \|\s+0\.50 \|$/);
    const over = table.split('\n').find((l) => l.startsWith('| RTT warm median over veth'));
    expect(over).to.match(/0\.450 \|\s+n\/a \|\s+0\.400 \|\s+0\.250 \|\s+n\/a \|\s+\|\s+1\.13 \|\s+\|\s+n\/a \|\s+n\/a \|\s+1\.80 \|$/);
  });

  it('reads kB fields of /proc status and smaps_rollup text', () => {
    const status = ['Name:\tnode', 'VmPeak:\t 1048344 kB', 'VmRSS:\t   71992 kB', 'RssAnon:\t   30000 kB'].join('\n');
    expect(kbField(status, 'VmRSS')).to.equal(71992 * 1024);
    expect(kbField(status, 'VmSwap')).to.equal(undefined);
    const rollup = [
      '565209e9b000-7fff74a1f000 ---p 00000000 00:00 0                          [rollup]',
      'Rss:                1672 kB',
      'Pss:                 300 kB',
      'Pss_Dirty:           116 kB',
      'Pss_Anon:            116 kB',
      'Private_Clean:        76 kB',
      'Private_Dirty:       116 kB',
    ].join('\n');
    // Pss, not Pss_Dirty or Pss_Anon; private = clean + dirty.
    expect(parseSmapsRollup(rollup)).to.deep.equal({ pssBytes: 300 * 1024, privateBytes: (76 + 116) * 1024 });
    expect(parseSmapsRollup('')).to.deep.equal({ pssBytes: null, privateBytes: null });
    expect(parseChildPids('123 456 \n')).to.deep.equal([123, 456]);
    expect(parseChildPids('')).to.deep.equal([]);
  });

  it('reads the memory of a live process; a childless process has no workers', () => {
    const m = processMemory(process.pid);
    expect(m.rssBytes).to.be.greaterThan(1 << 20);
    if (m.pssBytes !== null) expect(m.pssBytes).to.be.within(1, m.rssBytes);
    expect(workerPids(2 ** 22 + 1)).to.deep.equal([]);
  });

  const MB = 2 ** 20;
  const node = (i: number, main: number, workers: number[], pss = true): NodeMemory => ({
    node: i,
    main: { pid: 100 + i, rssBytes: main * MB, pssBytes: pss ? (main / 2) * MB : null, privateBytes: null, rssFileBytes: null },
    workers: workers.map((w, k) => ({ pid: 200 + k, rssBytes: w * MB, pssBytes: pss ? (w / 2) * MB : null, privateBytes: null, rssFileBytes: null })),
    // The container view: a cgroup charges shared pages once (here: main + half the workers).
    containerBytes: (main + workers.reduce((a, w) => a + w / 2, 0)) * MB,
  });

  it('sums a node, takes medians/means over nodes and the cost per step', () => {
    expect(figuresOf(node(0, 80, [60, 40]))).to.deep.equal({ mainRss: 80 * MB, mainPss: 40 * MB, workersRss: 100 * MB, workersPss: 50 * MB, nodeRss: 180 * MB, nodePss: 90 * MB, container: 130 * MB });
    // PSS missing on one node: null in that column, RSS still combined.
    const m = combineFigures([figuresOf(node(0, 80, [60])), figuresOf(node(1, 100, [70], false))], mean);
    expect(m.mainRss).to.equal(90 * MB);
    expect(m.mainPss).to.equal(null);
    const a = figuresOf(node(0, 80, [60]));
    const b = figuresOf(node(0, 86, [61.5]));
    const per = slopeFigures(a, b, 6);
    expect(per.mainRss).to.equal(1 * MB);
    expect(per.workersRss).to.equal(0.25 * MB);
    expect(per.nodePss).to.equal(0.625 * MB);
    expect(slopeFigures(a, b, 0).mainRss).to.equal(null);
  });

  it('the footprint tables: per-peer slopes between mesh sizes, per-worker cost, times', () => {
    const one = figuresOf(node(0, 80, [60]));
    const mesh = (nodes: number, mainMb: number): FootprintResult['meshes'][number] => {
      const f = figuresOf(node(0, mainMb, [60]));
      return { nodes, peers: nodes - 1, startMs: 500, fullMeshMs: nodes * 1000, ageMs: 60_000, median: f, max: f, perNode: [] };
    };
    const r: FootprintResult = {
      floor: { pid: 1, rssBytes: 40 * MB, pssBytes: 20 * MB, privateBytes: null, rssFileBytes: 33 * MB },
      idle: [node(0, 80, [60]), node(1, 82, [61])],
      transfer: null,
      meshes: [mesh(2, 80), mesh(8, 86)],
      workers: { workers: 2, one, many: figuresOf(node(0, 81, [60, 59])), perExtraWorker: slopeFigures(one, figuresOf(node(0, 81, [60, 59])), 1), perNode: [] },
      startup: { liveMs: [500, 400, 600], readyMs: [900, 800, 1000] },
      load: { start: [0, 0, 0], end: [0, 0, 0] },
      errors: [],
    };
    const lines = footprintTables(r).split('\n');
    expect(lines.find((l) => l.startsWith('| bare `node`'))).to.match(/\|\s+40\.0 \|\s+20\.0 \|/);
    expect(lines.find((l) => l.startsWith('| of which file pages'))).to.match(/\|\s+33\.0 \|/);
    expect(lines.find((l) => l.startsWith('| per extra peer, 1 -> 7'))).to.match(/\|\s+1\.0 \|\s+0\.5 \|\s+0\.0 \|\s+0\.0 \|\s+1\.0 \|\s+0\.5 \|\s+1\.0 \|$/);
    expect(lines.find((l) => l.startsWith('| per extra worker'))).to.match(/\|\s+1\.0 \|\s+0\.5 \|\s+59\.0 \|\s+29\.5 \|\s+60\.0 \|\s+30\.0 \|\s+30\.5 \|$/);
    expect(lines.find((l) => l.startsWith('| start -> /health/live'))).to.match(/\|\s+500 \|\s+400 \|\s+600 \|\s+3 \|$/);
    expect(lines.some((l) => l.includes('1 GiB'))).to.equal(false);
  });
});

describe('bench: memory cgroup reading', () => {
  it('reads a value out of a memory.stat text (v1 total_ names and v2 names)', async () => {
    const { statValue } = await import('../../src/bench/memory-cgroup.js');
    const v1 = 'cache 0\nrss 55885824\ntotal_inactive_file 135168\ntotal_active_file 0\n';
    expect(statValue(v1, 'total_inactive_file')).to.equal(135168);
    expect(statValue('anon 1\ninactive_file 4096\n', 'inactive_file')).to.equal(4096);
    expect(statValue(v1, 'inactive_file')).to.equal(undefined);
  });
});
