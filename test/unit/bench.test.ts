import { expect } from 'chai';
import { median, percentile, parsePingTimes, parseIperfTcp, parseIperfUdp, ratio, renderTable, fmt } from '../../src/bench/stats.js';
import { cpuTicksOfStat, ppidOfStat, processTree, cpuSeconds, rssBytes } from '../../src/bench/proc.js';
import { resultTable, type ScenarioResult } from '../../src/bench/main.js';

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

  it('the result table has ratios to wireguard-go and veth, n/a where missing', () => {
    const r = (name: ScenarioResult['name'], mbit: number, rtt: number): ScenarioResult => ({
      name,
      pingMs: { median: rtt, p99: rtt * 2, count: 100, lost: 0 },
      tcp1: { bitsPerSecond: mbit * 1e6, bytes: 1e9, seconds: 10, retransmits: 0, cpuSeconds: null, cpuSecondsPerGB: null },
    });
    const table = resultTable([r('veth', 10000, 0.05), r('tunmesh-fast', 500, 0.5), r('wireguard-go', 400, 0.45), { name: 'tunmesh-legacy', error: 'x' }]);
    const row = table.split('\n').find((l) => l.startsWith('| TCP 1 stream'));
    expect(row).to.match(/\|\s+10000 \|\s+500 \|\s+n\/a \|\s+400 \|\s+1\.25 \|\s+0\.05 \|\s+n\/a \|/);
    const over = table.split('\n').find((l) => l.startsWith('| RTT warm median over veth'));
    expect(over).to.match(/0\.450 \|\s+n\/a \|\s+0\.400 \|\s+1\.13 \|/);
  });
});
