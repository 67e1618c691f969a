// Software segmentation against the kernel's own: the kernel's TCP and UDP stacks send GSO
// super-packets over a veth with TSO/USO on (a capture on the sender's veth sees them whole,
// checksum still partial), a bridge forwards them to a port with TSO, GSO and checksum offload
// off, where the kernel cuts them in software and finishes the checksums (a capture there sees
// the segments). Each super-packet captured on the sender, cut by segmentSuperPacket(), must
// give byte for byte the kernel's segments: IP ids, lengths, header checksums, seq numbers,
// flags, L4 checksums, payload. Packets the kernel sent whole (no GSO) must come out of the
// NEEDS_CSUM path identical to the wire too.
//
//   node0 eth0 (TSO/USO on) --- v0 [br0] v1 (tso/gso/tx off) --- eth0 node1
//   capture: sender.pcap                  wire.pcap
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createBridgeLab, ProcessOutput, spawnInNetns, uniquePrefix, waitFor, run, pingFrom, type Lab } from '../helpers/netns.js';
import { readIpPackets } from '../helpers/pcap.js';
import {
  IPPROTO_TCP,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_HDR_GSO_UDP_L4,
  newPacketLayout,
  newSegmentTarget,
  newVnetHeader,
  readPacketLayout,
  resetSegmentTarget,
  segmentSuperPacket,
  type PacketLayout,
} from '../../src/offload/index.js';

const TRAFFIC = fileURLToPath(new URL('../fixtures/gso-traffic.py', import.meta.url));
const V6 = ['2001:2::10', '2001:2::11'] as const;
const TCP_PORT = 5601;
const UDP_PORT = 5602;
const UDP_GSO = 1200;
/** 7 NOPs and an end-of-list: a 28-byte IPv4 header. */
const IPV4_OPTIONS = '0101010101010100';
/** A destination-options header with one PadN option (8 bytes; the kernel fills next-header). */
const IPV6_DSTOPTS = '0000010400000000';

interface Comparison {
  superPackets: number;
  segments: number;
  plain: number;
  /** Sent packets with segments missing from the wire capture (not compared). */
  incomplete: number;
  /** The most segments one super-packet was cut into. */
  maxSegments: number;
}

describe('software segmentation matches the kernel (pcap of both compared)', function () {
  this.timeout(120_000);
  let lab: Lab;
  let dir: string;

  before(async function () {
    for (const tool of ['tcpdump', 'ethtool', 'python3']) {
      const r = await run('sh', ['-c', `command -v ${tool}`], { check: false });
      if (r.code !== 0) throw new Error(`${tool} is needed by this test: apt-get install tcpdump ethtool python3`);
    }
    dir = mkdtempSync(join(tmpdir(), 'tunmesh-gso-'));
    lab = await createBridgeLab(uniquePrefix('gso'), 2);
    for (const i of [0, 1]) await lab.exec(i, 'ip', ['addr', 'add', `${V6[i]}/64`, 'dev', 'eth0', 'nodad']);
    // The port toward node1 cannot segment nor checksum: the kernel does both in software there.
    await run('ip', ['netns', 'exec', lab.bridgeNs, 'ethtool', '-K', 'v1', 'tso', 'off', 'gso', 'off', 'tx', 'off']);
    // Neighbours resolved first: a burst sent before would wait in (or overflow) the ARP/ND queue.
    for (const address of [lab.nodes[1]!.address, V6[1]]) {
      expect((await pingFrom(lab.nodes[0]!.ns, address, { count: 1, timeoutS: 3 })).ok, `ping ${address}`).to.equal(true);
    }
  });

  after(async function () {
    await lab?.cleanup();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `send` with both captures on; returns the sender's and the wire's packets. */
  async function capture(tag: string, filter: string, send: () => Promise<void>): Promise<{ sent: Buffer[]; wire: Buffer[] }> {
    const sentFile = join(dir, `${tag}-sender.pcap`);
    const wireFile = join(dir, `${tag}-wire.pcap`);
    // --immediate-mode: without it libpcap hands packets over a ring block at a time, and the
    // block still filling when tcpdump is stopped is lost.
    const args = (ifname: string, file: string): string[] => ['-i', ifname, '-n', '-s', '0', '--immediate-mode', '-U', '-w', file, filter];
    const dumps = [new ProcessOutput(lab.spawn(0, 'tcpdump', args('eth0', sentFile))), new ProcessOutput(spawnInNetns(lab.bridgeNs, 'tcpdump', args('v1', wireFile)))];
    lab.track(dumps[1]!.child.pid);
    try {
      for (const d of dumps) {
        await waitFor(
          () => {
            if (d.exited) throw new Error(`tcpdump exited: ${d.stderr.trim()}`);
            return d.stderr.includes('listening on');
          },
          { timeoutMs: 10_000, what: 'tcpdump to listen' },
        );
      }
      await send();
      await new Promise((r) => setTimeout(r, 300)); // the last packets through the bridge
    } finally {
      for (const d of dumps) if (d.child.pid !== undefined && !d.exited) process.kill(d.child.pid, 'SIGINT');
      for (const d of dumps) await d.waitForExit(5000);
    }
    // TCP/UDP only (the filter cannot say "TCP behind IPv6 extension headers"; ND may pass it).
    const l4 = (p: Buffer): boolean => readPacketLayout(p, 0, p.length, layout);
    return { sent: readIpPackets(sentFile).filter(l4), wire: readIpPackets(wireFile).filter(l4) };
  }

  async function tcpTransfer(v6: boolean, bytes: number, opts?: string): Promise<void> {
    const host = v6 ? V6[1] : lab.nodes[1]!.address;
    const sink = new ProcessOutput(lab.spawn(1, 'python3', [TRAFFIC, 'tcp-sink', host, String(TCP_PORT)]));
    await sink.waitForLine(/LISTENING/, { timeoutMs: 10_000, what: 'the TCP sink' });
    await lab.exec(0, 'python3', [TRAFFIC, 'tcp-send', host, String(TCP_PORT), String(bytes), ...(opts ? [opts] : [])], { timeoutMs: 30_000 });
    const m = await sink.waitForLine(/RECEIVED (\d+)/, { timeoutMs: 10_000, what: 'the TCP sink to finish' });
    expect(Number(m[1])).to.equal(bytes);
  }

  async function udpBurst(v6: boolean, sizes: number[]): Promise<void> {
    const host = v6 ? V6[1] : lab.nodes[1]!.address;
    await lab.exec(0, 'python3', [TRAFFIC, 'udp-gso', host, String(UDP_PORT), String(UDP_GSO), ...sizes.map(String)], { timeoutMs: 30_000 });
  }

  const tcpCases = [
    { name: 'TCP over IPv4 (timestamps: 32-byte TCP header)', v6: false, opts: undefined },
    { name: 'TCP over IPv4 with 8 bytes of IP options', v6: false, opts: IPV4_OPTIONS },
    { name: 'TCP over IPv6', v6: true, opts: undefined },
    { name: 'TCP over IPv6 behind a destination-options header', v6: true, opts: IPV6_DSTOPTS },
  ];
  for (const c of tcpCases) {
    it(`${c.name}: every super-packet cut as the kernel cut it`, async function () {
      const src = c.v6 ? V6[0] : lab.nodes[0]!.address;
      const tag = `tcp${c.v6 ? 6 : 4}${c.opts ? 'o' : ''}`;
      const { sent, wire } = await capture(tag, `src host ${src}`, () => tcpTransfer(c.v6, 400_001, c.opts));
      const r = compareTcp(sent, wire, c.v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4, c.opts !== undefined);
      expect(r.superPackets, `super-packets compared: ${JSON.stringify(r)}`).to.be.at.least(2);
      expect(r.maxSegments, `the largest cut: ${JSON.stringify(r)}`).to.be.at.least(3);
    });
  }

  for (const v6 of [false, true]) {
    it(`UDP (USO) over IPv${v6 ? 6 : 4}: datagrams, a 1-byte last one, an exact multiple, and a plain one`, async function () {
      const src = v6 ? V6[0] : lab.nodes[0]!.address;
      const sizes = [30_001, UDP_GSO * 3, 1000, 64_000 - 8 - (v6 ? 40 : 20)];
      const { sent, wire } = await capture(`udp${v6 ? 6 : 4}`, `udp and src host ${src}`, () => udpBurst(v6, sizes));
      const r = compareUdp(sent, wire);
      expect(r.superPackets).to.equal(3);
      expect(r.plain).to.equal(1);
      expect(r.segments).to.equal(26 + 3 + Math.ceil(sizes[3]! / UDP_GSO));
    });
  }
});

const layout = newPacketLayout();
const sentLayout = newPacketLayout();
const hdr = newVnetHeader();
const target = newSegmentTarget(256 * 1024, 128);

function layoutOf(p: Buffer, into: PacketLayout = layout): PacketLayout {
  if (!readPacketLayout(p, 0, p.length, into)) throw new Error(`captured packet is not TCP/UDP over IP: ${p.subarray(0, 60).toString('hex')}`);
  return into;
}

/**
 * Cuts `p` as described by gsoType/gsoSize (GSO_NONE: finishes its checksum) and checks segment i
 * is byte for byte one of the wire packets in candidates[i] (more than one when the kernel
 * retransmitted the same bytes within the same TCP timestamp tick).
 */
function expectSame(p: Buffer, gsoType: number, gsoSize: number, candidates: Buffer[][], what: string): void {
  const l = layoutOf(p, sentLayout);
  hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
  hdr.gsoType = gsoType;
  hdr.gsoSize = gsoSize;
  hdr.hdrLen = l.payloadOff;
  hdr.csumStart = l.l4Off;
  hdr.csumOffset = l.l4Proto === IPPROTO_TCP ? 16 : 6;
  resetSegmentTarget(target);
  const n = segmentSuperPacket(hdr, p, 0, p.length, target);
  expect(n, `${what}: segment count`).to.equal(candidates.length);
  for (let i = 0; i < candidates.length; i++) {
    const ours = target.buffer.subarray(target.offsets[i]!, target.offsets[i]! + target.lengths[i]!);
    if (candidates[i]!.some((kernel) => ours.equals(kernel))) continue;
    const kernel = candidates[i]![0]!;
    let at = 0;
    while (at < ours.length && ours[at] === kernel[at]) at++;
    expect.fail(`${what}, segment ${i}/${candidates.length}: first difference at byte ${at} (lengths ${ours.length} vs ${kernel.length})\n ours:   ${ours.subarray(0, 80).toString('hex')}\n kernel: ${kernel.subarray(0, 80).toString('hex')}`);
  }
}

function tcpSeq(p: Buffer, l: PacketLayout): number {
  return p.readUInt32BE(l.l4Off + 4);
}

function tcpKey(p: Buffer, l: PacketLayout, seq: number): string {
  return `${seq}/${p.subarray(l.l4Off + 20, l.payloadOff).toString('hex')}`;
}

function compareTcp(sent: Buffer[], wire: Buffer[], gsoType: number, optioned: boolean): Comparison {
  const r: Comparison = { superPackets: 0, segments: 0, plain: 0, incomplete: 0, maxSegments: 0 };
  // The wire's data segments by sequence number and TCP options (the timestamp tells a
  // retransmission from the original).
  const bySeq = new Map<string, Buffer[]>();
  let mss = 0;
  for (const q of wire) {
    const l = layoutOf(q);
    const size = l.end - l.payloadOff;
    if (size === 0) continue;
    const key = tcpKey(q, l, tcpSeq(q, l));
    bySeq.set(key, [...(bySeq.get(key) ?? []), q]);
    mss = Math.max(mss, size);
  }
  expect(mss, 'data segments on the wire').to.be.greaterThan(0);
  for (const p of sent) {
    const l = layoutOf(p);
    const size = l.end - l.payloadOff;
    if (size === 0) continue;
    if (optioned) expect(l.l4Off, 'the sender used the requested IP options').to.be.greaterThan(p[0]! >>> 4 === 4 ? 20 : 40);
    const seq = tcpSeq(p, l);
    const n = Math.ceil(size / mss);
    const expected: Buffer[][] = [];
    for (let i = 0; i < n; i++) {
      const q = bySeq.get(tcpKey(p, l, (seq + i * mss) >>> 0));
      if (q === undefined) break;
      expected.push(q);
    }
    if (expected.length < n) {
      // The capture missed a segment (tcpdump dropped it, or the kernel did before the tap):
      // nothing to compare this super-packet with.
      r.incomplete++;
      continue;
    }
    if (n === 1) {
      expectSame(p, VIRTIO_NET_HDR_GSO_NONE, 0, expected, `plain TCP packet seq ${seq}`);
      r.plain++;
    } else {
      expectSame(p, gsoType, mss, expected, `TCP super-packet seq ${seq} (${size} bytes)`);
      r.superPackets++;
      r.segments += n;
      r.maxSegments = Math.max(r.maxSegments, n);
    }
  }
  return r;
}

function compareUdp(sent: Buffer[], wire: Buffer[]): Comparison {
  const r: Comparison = { superPackets: 0, segments: 0, plain: 0, incomplete: 0, maxSegments: 0 };
  // One flow through one bridge port: the wire keeps the sender's order.
  let next = 0;
  for (const p of sent) {
    const l = layoutOf(p);
    const size = l.end - l.payloadOff;
    const n = Math.max(1, Math.ceil(size / UDP_GSO));
    const expected = wire.slice(next, next + n).map((q) => [q]);
    next += n;
    if (n === 1) {
      expectSame(p, VIRTIO_NET_HDR_GSO_NONE, 0, expected, `plain UDP datagram (${size} bytes)`);
      r.plain++;
    } else {
      expectSame(p, VIRTIO_NET_HDR_GSO_UDP_L4, UDP_GSO, expected, `UDP super-packet (${size} bytes)`);
      r.superPackets++;
      r.segments += n;
      r.maxSegments = Math.max(r.maxSegments, n);
    }
  }
  expect(next, 'every wire datagram accounted for').to.equal(wire.length);
  return r;
}
