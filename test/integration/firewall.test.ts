// The firewall (tunmesh.firewall, docs/security.md) on real nodes: each node has its own
// certificate with its groups (urn:tunmesh:group:NAME SANs), mutual TLS, and rules judged by the
// kernel on the TUN device. Real TCP, UDP and ICMP flows, IPv4 and IPv6, cross or are dropped
// and counted; replies to allowed flows pass; a reload swaps the rules while a stream goes on.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { MeshLab, meshAddress } from '../../src/lab/mesh-lab.js';
import { makeLabPki } from '../../src/lab/pki.js';
import { killPid, pingFrom, uniquePrefix, waitFor } from '../helpers/netns.js';
import { counterValue, sampleValue } from '../helpers/metrics.js';
import { probe, probeAllowed, startEcho, type EchoServer } from '../helpers/probe.js';
import { formatStatus } from '../../src/cli/status-command.js';

const DB = 0;
const WEB = 1;
const OTHER = 2;
const GROUPS = [['db'], ['web', 'frontend'], ['batch']];
const DB_RULES = {
  inbound: [
    { proto: 'tcp', port: 5432, group: 'web' },
    { proto: 'tcp', port: 5001, group: 'web' },
    { proto: 'udp', port: 5353, groups: ['web', 'frontend'] },
    { proto: 'tcp', port: '7000-7001', action: 'drop', host: 'any' },
    { proto: 'icmp', host: 'any' },
    { proto: 'icmpv6', host: 'any' },
  ],
  outbound: [
    { proto: 'tcp', port: 9000, action: 'drop', host: 'any' },
    { host: 'any' },
  ],
};
// web takes only pings: what it opens itself comes back by connection tracking.
const WEB_RULES = { inbound: [{ proto: 'icmp', host: 'any' }, { proto: 'icmpv6', host: 'any' }] };

describe('firewall by certificate groups, enforced by the kernel on the mesh device', function () {
  this.timeout(240_000);
  let mesh: MeshLab;
  let echo: EchoServer[] = [];
  let pkiDir = '';
  const scrape = async (i: number): Promise<string> => (await mesh.curl(i, [`${mesh.node(i).url}/metrics`])).body;
  const dropped = async (i: number, direction: string, rule: string): Promise<number> =>
    sampleValue(await scrape(i), 'tunmesh_firewall_dropped_total', `direction="${direction}",rule="${rule}"`);

  before(async () => {
    const tag = uniquePrefix('tmf');
    pkiDir = mkdtempSync(join(tmpdir(), `${tag}-pki-`));
    const pki = await makeLabPki(pkiDir);
    mesh = await MeshLab.create({
      tag,
      nodes: 3,
      ipv6: () => true,
      nodeTls: async (i, address) => {
        const cert = await pki.issue(`node${i}`, [address], { groups: GROUPS[i] ?? [] });
        return { ...cert, caPath: pki.caPath, clientAuth: 'require' };
      },
      firewallOf: (i) => (i === DB ? DB_RULES : i === WEB ? WEB_RULES : undefined),
    });
    await Promise.all([0, 1, 2].map((i) => mesh.start(i)));
    await mesh.waitForFullMesh(60_000);
    await mesh.waitForDataPlane(30_000);
    echo = await Promise.all([DB, WEB, OTHER].map((i) => startEcho(mesh, i, [5432, 5353, 6000, 7000, 9000, 9001])));
  });
  after(async () => {
    for (const e of echo) e.stop();
    await mesh?.cleanup();
    if (pkiDir !== '') rmSync(pkiDir, { recursive: true, force: true });
  });

  it('lets web reach db on tcp/5432 and udp/5353 (IPv4 and IPv6); replies pass web, which takes no such inbound', async () => {
    // Group sets fill once db has seen web's certificate: wait for the first flow, bounded.
    await waitFor(async () => (await probe(mesh, WEB, 'tcp', meshAddress(DB), 5432)) === 'ok', { timeoutMs: 30_000, intervalMs: 500, what: 'web -> db tcp/5432' });
    expect(await probeAllowed(mesh, WEB, 'tcp', mesh.address6Of(DB), 5432)).to.equal('ok');
    expect(await probeAllowed(mesh, WEB, 'udp', meshAddress(DB), 5353)).to.equal('ok');
    expect(await probeAllowed(mesh, WEB, 'udp', mesh.address6Of(DB), 5353)).to.equal('ok');
  });

  it('drops what no rule allows, in both directions, and counts it by rule', async () => {
    const before = await dropped(DB, 'inbound', 'default');
    expect(await probe(mesh, OTHER, 'tcp', meshAddress(DB), 5432)).to.equal('timeout');
    expect(await probe(mesh, OTHER, 'udp', mesh.address6Of(DB), 5353)).to.equal('timeout');
    expect(await probe(mesh, WEB, 'tcp', meshAddress(DB), 6000)).to.equal('timeout');
    // A drop rule is counted under its own path.
    expect(await probe(mesh, WEB, 'tcp', meshAddress(DB), 7000)).to.equal('timeout');
    // db may not open anything toward web (web's inbound), nor tcp/9000 anywhere (db's outbound).
    expect(await probe(mesh, DB, 'tcp', meshAddress(WEB), 5432)).to.equal('timeout');
    expect(await probe(mesh, DB, 'tcp', meshAddress(OTHER), 9000)).to.equal('timeout');
    expect(await probeAllowed(mesh, DB, 'tcp', meshAddress(OTHER), 9001)).to.equal('ok');
    await waitFor(async () => (await dropped(DB, 'inbound', 'default')) >= before + 3, { timeoutMs: 15_000, what: 'db to count its default drops' });
    expect(await dropped(DB, 'inbound', 'tunmesh/firewall/inbound/3')).to.be.greaterThan(0);
    await waitFor(async () => (await dropped(DB, 'outbound', 'tunmesh/firewall/outbound/0')) > 0, { timeoutMs: 15_000, what: 'db to count its outbound drop' });
    await waitFor(async () => (await dropped(WEB, 'inbound', 'default')) > 0, { timeoutMs: 15_000, what: 'web to count its drop' });
  });

  it('passes ICMP and ICMPv6 where allowed, both ways', async () => {
    for (const [from, to] of [[WEB, DB], [OTHER, DB], [DB, WEB], [OTHER, WEB]] as const) {
      expect((await pingFrom(mesh.node(from).ns, meshAddress(to), { count: 2 })).lost, `ping ${from} -> ${to}`).to.equal(0);
      expect((await pingFrom(mesh.node(from).ns, mesh.address6Of(to), { count: 2 })).lost, `ping6 ${from} -> ${to}`).to.equal(0);
    }
  });

  it('shows the same rule hash in /metrics and `tunmesh status`, and a different one where the rules differ', async () => {
    const hashOf = async (i: number): Promise<string> => /tunmesh_firewall_rules\{[^}]*hash="([^"]+)"/.exec(await scrape(i))?.[1] ?? '';
    const [db, web, other] = await Promise.all([DB, WEB, OTHER].map(hashOf));
    expect(db).to.match(/^[0-9a-f]{12}$/);
    expect(web).to.match(/^[0-9a-f]{12}$/).and.not.equal(db);
    expect(other).to.equal('none');
    // The kernel's connection table the rules rely on is visible too (the namespace's flows).
    expect(counterValue(await scrape(DB), 'tunmesh_firewall_conntrack_entries')).to.be.greaterThan(0);
    const status = await mesh.status(DB);
    expect(status.firewall).to.deep.equal({ rules: 8, hash: db });
    expect(formatStatus(status)).to.contain(`firewall: 8 rules in force (hash ${db})`);
  });

  it('reloads rules on a config change without cutting an allowed stream; SIGHUP reloads too', async () => {
    const stream = await mesh.startTransfer(WEB, DB, 6_000_000, { port: 5001, rate: 1_000_000 });
    const hashBefore = (await mesh.status(DB)).firewall?.hash;
    // Allow batch on tcp/6000: written the way config tools write files (a rename over it).
    const path = mesh.node(DB).configPath;
    const doc = YAML.parse(readFileSync(path, 'utf8')) as { tunmesh: { firewall: typeof DB_RULES } };
    doc.tunmesh.firewall.inbound.unshift({ proto: 'tcp', port: 6000, group: 'batch' });
    writeFileSync(`${path}.new`, YAML.stringify(doc));
    renameSync(`${path}.new`, path);
    await waitFor(async () => (await mesh.status(DB)).firewall?.hash !== hashBefore, { timeoutMs: 10_000, what: 'db to reload its rules' });
    expect(await probeAllowed(mesh, OTHER, 'tcp', meshAddress(DB), 6000)).to.equal('ok');
    const result = await stream.done();
    expect(result.intact, JSON.stringify(result)).to.equal(true);
    expect(result.bytes).to.equal(6_000_000);
    // SIGHUP with nothing changed: counted as unchanged.
    killPid(mesh.node(DB).process?.child.pid as number, 'SIGHUP');
    await waitFor(async () => sampleValue(await scrape(DB), 'tunmesh_security_reloads_total', 'what="firewall",result="unchanged"') >= 1, { timeoutMs: 10_000, what: 'SIGHUP reload' });
  });
});

describe('firewall rules by CIDR match an original node (no certificate groups)', function () {
  this.timeout(180_000);
  let mesh: MeshLab;
  const TUNMESH = 0;
  const ORIGINAL = 1;
  const OTHER_TUNMESH = 2;
  let echo: EchoServer | undefined;

  before(async () => {
    mesh = await MeshLab.create({
      tag: uniquePrefix('tmfo'),
      nodes: 3,
      legacyInterop: true,
      kind: (i) => (i === ORIGINAL ? 'original' : 'tunmesh'),
      bootstrapOf: (i) => (i === ORIGINAL ? [] : [ORIGINAL]),
      firewallOf: (i) => (i === TUNMESH ? { inbound: [{ proto: 'icmp', cidr: `${meshAddress(ORIGINAL)}/32` }, { proto: 'tcp', port: 5432, cidr: `${meshAddress(ORIGINAL)}/32` }] } : undefined),
    });
    await mesh.startAll();
    await waitFor(async () => (await pingFrom(mesh.node(ORIGINAL).ns, meshAddress(TUNMESH), { count: 1 })).ok, { timeoutMs: 60_000, intervalMs: 500, what: 'the original to ping the tunmesh node' });
    echo = await startEcho(mesh, TUNMESH, [5432]);
  });
  after(async () => {
    echo?.stop();
    await mesh?.cleanup();
  });

  it('lets the original in on what its CIDR is granted, keeps the other tunmesh node out', async () => {
    expect((await pingFrom(mesh.node(ORIGINAL).ns, meshAddress(TUNMESH), { count: 3 })).lost).to.equal(0);
    expect(await probeAllowed(mesh, ORIGINAL, 'tcp', meshAddress(TUNMESH), 5432)).to.equal('ok');
    await waitFor(async () => (await pingFrom(mesh.node(OTHER_TUNMESH).ns, meshAddress(ORIGINAL), { count: 1 })).ok, { timeoutMs: 30_000, intervalMs: 500, what: 'the other tunmesh node to join' });
    expect((await pingFrom(mesh.node(OTHER_TUNMESH).ns, meshAddress(TUNMESH), { count: 2, timeoutS: 1 })).received).to.equal(0);
    expect(await probe(mesh, OTHER_TUNMESH, 'tcp', meshAddress(TUNMESH), 5432)).to.equal('timeout');
    // The tunmesh node still opens flows toward both (no outbound rules): replies come back.
    expect((await pingFrom(mesh.node(TUNMESH).ns, meshAddress(OTHER_TUNMESH), { count: 2 })).lost).to.equal(0);
  });
});
