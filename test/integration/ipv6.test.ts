// IPv6 through real meshes: the overlay (tunmesh nodes' IPv6 addresses, announced in their
// signed claim) beside IPv4, an IPv6-only underlay (advertise URLs with IPv6 literals, hostname
// checked against IPv6 SANs), and a mixed mesh with the real original, which carries IPv4 only.
import { expect } from 'chai';
import { LAB_CLI, MeshLab, type PairPing } from '../../src/lab/mesh-lab.js';
import { ensureOriginalBuilt } from '../../src/lab/original.js';
import { uniquePrefix, waitFor } from '../helpers/netns.js';
import { counterValue, sampleValue } from '../helpers/metrics.js';

/**
 * Every directed pair answers in `family` (polls, bounded: a channel may still be opening). The
 * original now and then loses an echo when several pairs ping at once (interop.test.ts), so a
 * pair with an original needs one answer, a tunmesh pair all of them.
 */
async function waitForPings(mesh: MeshLab, family: 4 | 6, indexes = mesh.running(), timeoutMs = 20_000): Promise<PairPing[]> {
  let last: PairPing[] = [];
  const answered = (p: PairPing): boolean => (mesh.node(p.from).kind === 'original' || mesh.node(p.to).kind === 'original' ? p.received > 0 : p.ok);
  await waitFor(
    async () => {
      last = await mesh.pingMatrix(2, indexes, family);
      return last.every(answered);
    },
    { timeoutMs, intervalMs: 300, what: `every directed pair to answer IPv${family} pings` },
  ).catch((err: unknown) => {
    throw new Error(`${String(err)}; failing: ${last.filter((p) => !answered(p)).map((p) => `${p.from}->${p.to}: ${p.output.trim().split('\n').slice(-2).join(' | ')}`).join('; ')}`);
  });
  return last;
}

async function scrape(mesh: MeshLab, i: number): Promise<string> {
  const r = await mesh.curl(i, [`${mesh.node(i).url}/metrics`]);
  expect(r.status, r.body.slice(0, 300)).to.equal(200);
  return r.body;
}

describe('IPv6: a 3-node mesh carrying IPv4 and IPv6 side by side', function () {
  this.timeout(90_000);
  let mesh: MeshLab;

  before(async () => {
    // Node 2 bootstraps from node 0 only: it learns node 1 (and node 1's IPv6 address) from
    // registrations, then from node 1's own signed answer.
    // Node 2's MTU is IPv6's minimum, 1280: larger IPv6 packets toward it are answered with
    // ICMPv6 Packet Too Big by the sending node.
    mesh = await MeshLab.create({ tag: uniquePrefix('tm6'), nodes: 3, ipv6: () => true, bootstrapFrom: [0], mtuOf: (i) => (i === 2 ? 1280 : undefined) });
    await mesh.startAll();
    await mesh.waitForFullMesh(20_000);
  });
  after(async () => mesh?.cleanup());

  it('shows every node\'s IPv6 address in tunmesh status, learned from the peers\' signed claims', async () => {
    await waitFor(
      async () => {
        const statuses = await Promise.all([0, 1, 2].map((i) => mesh.status(i)));
        return statuses.every((s, i) => s.address6 === `${mesh.address6Of(i)}/64` && s.peers.every((p) => p.address6 !== null));
      },
      { timeoutMs: 10_000, what: 'IPv6 addresses in every status' },
    );
    const s2 = await mesh.status(2);
    const ids = await Promise.all([0, 1].map((i) => mesh.nodeId(i)));
    expect(s2.peers.find((p) => p.id === ids[1])?.address6).to.equal(`${mesh.address6Of(1)}/64`);
    expect(s2.peers.find((p) => p.id === ids[0])?.address6).to.equal(`${mesh.address6Of(0)}/64`);
    // The device is set up without link-local address, router discovery or DAD: the kernel's own
    // IPv6 chatter (router solicitations, MLD) does not reach the data plane.
    const m = await scrape(mesh, 2);
    expect(sampleValue(m, 'tunmesh_dropped_packets_total', 'reason="link_local"')).to.equal(0);
    expect(sampleValue(m, 'tunmesh_dropped_packets_total', 'reason="unsupported"')).to.equal(0);
    const sysctl = await mesh.exec(2, 'sysctl', ['-n', 'net.ipv6.conf.tm0.disable_ipv6', 'net.ipv6.conf.tm0.accept_ra', 'net.ipv6.conf.tm0.addr_gen_mode']);
    expect(sysctl.stdout.split('\n').slice(0, 3)).to.deep.equal(['0', '0', '1']);
  });

  it('answers ping and ping -6 between every pair', async () => {
    const v4 = await waitForPings(mesh, 4);
    const v6 = await waitForPings(mesh, 6);
    expect(v4).to.have.length(6);
    expect(v6).to.have.length(6);
  });

  it('carries TCP intact over IPv4 and over IPv6, full-size IPv6 packets included', async () => {
    const [over4, over6] = await Promise.all([mesh.transfer(0, 1, 1 << 20), mesh.transfer(1, 2, 1 << 20, { family: 6 })]);
    console.log(`      IPv4 ${over4.mbps.toFixed(1)} Mbit/s, IPv6 ${over6.mbps.toFixed(1)} Mbit/s`);
    expect(over4.intact).to.equal(true);
    expect(over6.intact).to.equal(true);
    // 1452 bytes of ICMPv6 payload + 8 + 40 = 1500: the MTU, not fragmented (-M do).
    const big = await mesh.exec(0, 'ping', ['-6', '-n', '-c', '2', '-i', '0.2', '-W', '2', '-M', 'do', '-s', '1452', mesh.address6Of(1)]);
    expect(big.stdout, big.stdout + big.stderr).to.match(/2 packets transmitted, 2 received/);
  });

  it('answers IPv6 packets too big for the peer with ICMPv6 Packet Too Big, and the path MTU adapts', async () => {
    // Node 1 (MTU 1500) pings node 2 (MTU 1280) with 1448-byte packets, not fragmented.
    const tooBig = await mesh.exec(1, 'ping', ['-6', '-n', '-c', '1', '-W', '2', '-M', 'do', '-s', '1400', mesh.address6Of(2)]);
    expect(tooBig.stdout + tooBig.stderr).to.match(/[Pp]acket too big.*mtu\s*=\s*1280/);
    const route = await mesh.exec(1, 'ip', ['-6', 'route', 'get', mesh.address6Of(2)]);
    expect(route.stdout, 'the kernel learned the path MTU').to.match(/mtu 1280/);
    // Now the kernel fragments to fit: large pings get through whole.
    const fitted = await mesh.exec(1, 'ping', ['-6', '-n', '-c', '3', '-i', '0.2', '-W', '2', '-s', '1400', mesh.address6Of(2)]);
    expect(fitted.stdout, fitted.stdout + fitted.stderr).to.match(/3 packets transmitted, 3 received/);
    await waitFor(async () => sampleValue(await scrape(mesh, 1), 'tunmesh_dropped_packets_total', 'reason="oversized"') >= 1, {
      timeoutMs: 10_000, intervalMs: 500, what: 'the too-big packet counted oversized on node 1',
    });
  });

  it('counts IPv6 packets, and drops link-local and unrouted IPv6 with their reasons', async () => {
    // Link-scoped destinations (fe80::/10, ff02::/16) are never carried; an address in the mesh
    // network that nobody owns has no route. (The device has no link-local address: the first
    // ping names our mesh address as its source.)
    await mesh.exec(0, 'ping', ['-6', '-n', '-c', '1', '-W', '1', '-I', mesh.address6Of(0), 'fe80::1%tm0']);
    await mesh.exec(0, 'ping', ['-6', '-n', '-c', '1', '-W', '1', '-I', 'tm0', 'ff02::2']);
    await mesh.exec(0, 'ping', ['-6', '-n', '-c', '2', '-i', '0.2', '-W', '1', '2001:2:0:100::99']);
    let drops = { linkLocal: 0, noRoute: 0 };
    await waitFor(
      async () => {
        const m = await scrape(mesh, 0);
        drops = { linkLocal: sampleValue(m, 'tunmesh_dropped_packets_total', 'reason="link_local"'), noRoute: sampleValue(m, 'tunmesh_dropped_packets_total', 'reason="no_route"') };
        return drops.linkLocal >= 1 && drops.noRoute >= 2;
      },
      { timeoutMs: 10_000, intervalMs: 500, what: 'link_local and no_route drops on node 0' },
    ).catch((err: unknown) => {
      throw new Error(`${String(err)}; drops so far ${JSON.stringify(drops)}`);
    });
    await waitForPings(mesh, 6, [0, 1]);
    // Worker counters reach the scrape every couple of seconds.
    await waitFor(
      async () => {
        const m = await scrape(mesh, 1);
        return counterValue(m, 'tunmesh_tun_read_ipv6_packets_total') > 0 && counterValue(m, 'tunmesh_tun_written_ipv6_packets_total') > 0;
      },
      { timeoutMs: 10_000, intervalMs: 500, what: 'IPv6 packet counters on node 1' },
    );
    const text = (await mesh.exec(0, process.execPath, [LAB_CLI, 'status', '--socket', mesh.node(0).statusSocket])).stdout;
    expect(text).to.contain('IPV6').and.to.contain(`${mesh.address6Of(1)}/64`);
  });
});

describe('IPv6: a mesh over an IPv6-only underlay', function () {
  this.timeout(60_000);
  let mesh: MeshLab;

  before(async () => {
    // Advertise and bootstrap URLs are https://[2001:2::a]:4567; hostnames are checked against
    // the certificate's IPv6 SANs.
    // Node 1 listens on its underlay address only (tunmesh.control_api.listen_address).
    mesh = await MeshLab.create({
      tag: uniquePrefix('tm6u'), nodes: 2, underlay: 'ipv6', ipv6: () => true, verifyHostname: true,
      listenAddressOf: (address, i) => (i === 1 ? address : undefined),
    });
    await mesh.startAll();
    await mesh.waitForFullMesh(20_000);
  });
  after(async () => mesh?.cleanup());

  it('meshes through IPv6 literals and carries both families intact', async () => {
    expect(mesh.node(1).url).to.equal('https://[2001:2::b]:4567');
    const noV4 = await mesh.exec(0, 'ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0']);
    expect(noV4.stdout.trim(), 'the underlay has no IPv4 address').to.equal('');
    const status = await mesh.status(0);
    expect(status.peers.map((p) => [p.url, p.path])).to.deep.equal([['https://[2001:2::b]:4567', 'fast']]);
    const listening = async (i: number): Promise<string> => (await mesh.exec(i, 'ss', ['-Hltn', 'sport = :4567'])).stdout;
    expect(await listening(0), 'every address, dual-stack').to.match(/\[::\]:4567|\*:4567/);
    expect(await listening(1), 'the chosen address only').to.match(/\[2001:2::b\]:4567/).and.not.match(/\[::\]:4567|\*:4567/);
    await waitForPings(mesh, 4);
    await waitForPings(mesh, 6);
    const [over4, over6] = await Promise.all([mesh.transfer(1, 0, 1 << 20), mesh.transfer(0, 1, 1 << 20, { family: 6 })]);
    expect(over4.intact).to.equal(true);
    expect(over6.intact).to.equal(true);
  });
});

describe('IPv6: a mixed mesh with the real original, which carries IPv4 only', function () {
  this.timeout(120_000);
  let mesh: MeshLab;

  before(async function () {
    this.timeout(600_000); // a new machine builds the original first
    await ensureOriginalBuilt();
    // tunmesh 0 and 1 have IPv6; the original (2) has none and never sees it.
    mesh = await MeshLab.create({
      tag: uniquePrefix('tm6o'),
      nodes: 3,
      legacyInterop: true,
      ipv6: (i) => i !== 2,
      kind: (i) => (i === 2 ? 'original' : 'tunmesh'),
      bootstrapOf: (i) => (i === 0 ? [] : [i - 1]),
    });
    await mesh.startAll();
    await mesh.waitForRegistrations(60_000);
  });
  after(async () => mesh?.cleanup());

  it('pings across kinds over IPv4 and between the tunmesh nodes over IPv6', async () => {
    await waitForPings(mesh, 4, [0, 1, 2], 45_000);
    await waitForPings(mesh, 6, [0, 1]);
    const [tun6, toOriginal] = await Promise.all([mesh.transfer(0, 1, 1 << 20, { family: 6 }), mesh.transfer(1, 2, 1 << 20)]);
    expect(tun6.intact).to.equal(true);
    expect(toOriginal.intact).to.equal(true);
  });

  it('tells tunmesh peers apart from the original: no IPv6 for the original, its path the JSON one', async () => {
    const s0 = await mesh.status(0);
    const originalId = await mesh.nodeId(2);
    const original = s0.peers.find((p) => p.id === originalId);
    expect(original?.address6).to.equal(null);
    expect(original?.path).to.equal('legacy');
    expect(s0.peers.find((p) => p.id !== originalId)?.address6).to.equal(`${mesh.address6Of(1)}/64`);
    // The original's own view of tunmesh nodes: its structs, IPv4 only, no IPv6 anywhere.
    const regs = await mesh.curl(2, [`${mesh.node(2).url}/tunmesh/control/v0/registrations`]);
    expect(regs.status).to.equal(200);
    expect(regs.body).to.contain('198.19.0.1').and.not.to.contain('2001:2:');
    expect(mesh.logTail(2, 20_000)).to.not.match(/500 Internal|NoMethodError|ArgumentError/);
  });

  it('drops IPv6 toward the original\'s would-be IPv6 address as unrouted, and counts it', async () => {
    // The original announces no IPv6 address, so no IPv6 route leads to it (ipv6_to_original
    // guards the JSON path beneath: test/unit/ipv6-dataplane.test.ts).
    const before = sampleValue(await scrape(mesh, 0), 'tunmesh_dropped_packets_total', 'reason="no_route"');
    await mesh.exec(0, 'ping', ['-6', '-n', '-c', '2', '-i', '0.2', '-W', '1', '2001:2:0:100::3']);
    await waitFor(
      async () => sampleValue(await scrape(mesh, 0), 'tunmesh_dropped_packets_total', 'reason="no_route"') >= before + 2,
      { timeoutMs: 10_000, intervalMs: 500, what: 'no_route drops on node 0' },
    );
    await waitForPings(mesh, 4, [0, 1, 2], 10_000);
  });
});
