// Mutual TLS, hot reload and revocation on real nodes (docs/security.md): every node has its own
// certificate from a test CA (test/fixtures/test-pki.ts, openssl), tunmesh.tls.client_auth:
// require, and a watched deny file. Refusals are checked by status, JSON reason and the
// auth-failure counter; reloads under a 10 ms ping stream; a revocation by the cut-off it causes.
import { expect } from 'chai';
import { renameSync, writeFileSync } from 'node:fs';
import { MeshLab, meshAddress } from '../../src/lab/mesh-lab.js';
import { killPid, pingFrom, uniquePrefix, waitFor } from '../helpers/netns.js';
import { sampleValue } from '../helpers/metrics.js';
import { TestPki, type IssuedCert } from '../fixtures/test-pki.js';
import { formatStatus } from '../../src/cli/status-command.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const REGISTER = '/tunmesh/control/v0/registrations/register';

/** A lab of `n` nodes with their own certificates (SAN: their underlay address), mutual TLS (require unless said otherwise) and one shared deny file. */
async function mtlsLab(
  tag: string,
  n: number,
  pki: TestPki,
  denyFile: string,
  timing = {},
  sanOf?: (i: number, address: string) => string,
  clientAuthOf: (i: number) => 'request' | 'require' = () => 'require',
): Promise<{ mesh: MeshLab; certs: IssuedCert[] }> {
  const certs: IssuedCert[] = [];
  const mesh = await MeshLab.create({
    tag,
    nodes: n,
    timing,
    nodeTls: async (i, address) => {
      const cert = await pki.issue(`node${i}`, { ips: [sanOf?.(i, address) ?? address] });
      certs[i] = cert;
      return { certPath: cert.certPath, keyPath: cert.keyPath, caPath: pki.caPath, clientAuth: clientAuthOf(i), denyFile };
    },
  });
  return { mesh, certs };
}

/** curl from node `from` to node `to` (server certificate not checked: -k), with a client certificate or none. */
async function request(mesh: MeshLab, from: number, to: number, path: string, o: { cert?: IssuedCert; post?: boolean; headers?: string[]; port?: number } = {}): Promise<{ status: number; body: string }> {
  const args = ['-sk', '--http1.1', '--max-time', '5', '-w', '\n%{http_code}'];
  if (o.cert) args.push('--cert', o.cert.certPath, '--key', o.cert.keyPath);
  if (o.post) args.push('-X', 'POST', '-H', 'Content-Type: application/json', '--data', '{}');
  for (const h of o.headers ?? []) args.push('-H', h);
  const url = new URL(mesh.node(to).url);
  if (o.port !== undefined) url.port = String(o.port);
  const r = await mesh.exec(from, 'curl', [...args, `${url.origin}${path}`]);
  const idx = r.stdout.lastIndexOf('\n');
  return { status: Number(r.stdout.slice(idx + 1)), body: r.stdout.slice(0, idx) };
}

const reasonOf = (body: string): string | undefined => {
  try {
    return (JSON.parse(body) as { reason?: string }).reason;
  } catch {
    return undefined;
  }
};

async function scrape(mesh: MeshLab, from: number, of: number): Promise<string> {
  return (await request(mesh, from, of, '/metrics')).body;
}

/** The SHA-256 fingerprint of the certificate node `of` serves to a new connection. */
async function servedFingerprint(mesh: MeshLab, from: number, of: number, port?: number): Promise<string> {
  const url = new URL(mesh.node(of).url);
  if (port !== undefined) url.port = String(port);
  const host = url.host;
  const r = await mesh.exec(from, 'sh', ['-c', `openssl s_client -connect ${host} </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256`]);
  return (r.stdout.split('=')[1] ?? '').trim().replace(/:/g, '').toLowerCase();
}

describe('mutual TLS: a node with client_auth require refuses bad client certificates, by reason', function () {
  this.timeout(120_000);
  let pki: TestPki;
  let mesh: MeshLab;
  let certs: IssuedCert[];
  let denied: IssuedCert;

  before(async () => {
    const tag = uniquePrefix('tmt');
    pki = await TestPki.create(tag);
    denied = await pki.issue('denied', { ips: ['198.18.0.250'] });
    const denyFile = pki.writeDenyFile('deny.yaml', { cert_fingerprints: [denied.fingerprint] });
    // Node 2's certificate names an address that is not its own: it holds the cluster secret and
    // a certificate of our CA, but cannot claim its URL.
    // Node 1 only requests client certificates (the migration step); 0 and 2 require them.
    ({ mesh, certs } = await mtlsLab(tag, 3, pki, denyFile, {}, (i, address) => (i === 2 ? '198.18.0.251' : address), (i) => (i === 1 ? 'request' : 'require')));
    await mesh.startAll();
  });

  after(async () => {
    await mesh?.cleanup();
    pki?.cleanup();
  });

  it('meshes nodes whose certificates name their URLs; status and metrics show the peer certificate', async () => {
    await mesh.waitForFullMesh(30_000, [0, 1]);
    const ping = await pingFrom(mesh.node(0).ns, meshAddress(1), { count: 3, intervalS: 0.2, timeoutS: 2 });
    expect(ping.received, ping.output).to.equal(3);
    const peer1 = (await mesh.status(0)).peers.find((p) => p.url === mesh.node(1).url);
    expect(peer1?.certFingerprint).to.equal(certs[1]?.fingerprint);
    expect(peer1?.certNotAfter).to.be.greaterThan(Date.now() / 1000);
    const table = formatStatus(await mesh.status(0));
    expect(table).to.contain('CERT EXPIRES').and.to.contain(certs[1]?.fingerprint.slice(0, 16));
    const metrics = await scrape(mesh, 1, 0);
    expect(sampleValue(metrics, 'tunmesh_peer_certificate_expiry_seconds', `peer="${peer1?.id}"`)).to.be.greaterThan(3600);
  });

  it('refuses a registration whose listen_url is not among its certificate SANs (san_mismatch)', async () => {
    const count = await waitFor(async () => sampleValue(await scrape(mesh, 1, 0), 'tunmesh_auth_failures_total', 'reason="san_mismatch"') || false, {
      timeoutMs: 15_000,
      what: 'node 0 to refuse node 2 with san_mismatch',
    });
    expect(count).to.be.at.least(1);
    const id2 = (await mesh.status(2)).id;
    expect((await mesh.status(0)).peers.map((p) => p.id)).to.not.include(id2);
    expect((await mesh.status(1)).peers.map((p) => p.id)).to.not.include(id2);
  });

  it('answers each bad client certificate with its reason, counts it, and keeps /health, /metrics and node_info open', async () => {
    const other = await pki.issue('other', { ips: ['198.18.0.1'], otherCa: true });
    const expired = await pki.issue('expired', { ips: ['198.18.0.2'], expired: true });
    const before = await scrape(mesh, 1, 0);
    const cases: Array<[string, IssuedCert | undefined, number, string]> = [
      ['no certificate', undefined, 401, 'client_cert_missing'],
      ['a certificate from another CA', other, 401, 'client_cert_untrusted'],
      ['an expired certificate', expired, 401, 'client_cert_untrusted'],
      ['a denied certificate', denied, 403, 'denied'],
      // A good certificate passes the TLS check and meets the token check.
      ['a good certificate and no token', certs[1], 401, 'missing_header'],
    ];
    for (const [what, cert, status, reason] of cases) {
      const r = await request(mesh, 1, 0, REGISTER, { cert, post: true });
      expect(r.status, what).to.equal(status);
      expect(reasonOf(r.body), what).to.equal(reason);
    }
    // The fast-path upgrade is guarded the same way.
    const upgrade = await request(mesh, 1, 0, `/tunmesh/fastpath/v1/${(await mesh.status(1)).id}`, { headers: ['Connection: Upgrade', 'Upgrade: tunmesh-fastpath/1'] });
    expect([upgrade.status, reasonOf(upgrade.body)], 'upgrade without a certificate').to.deep.equal([401, 'client_cert_missing']);
    const deniedUpgrade = await request(mesh, 1, 0, `/tunmesh/fastpath/v1/${(await mesh.status(1)).id}`, { cert: denied, headers: ['Connection: Upgrade', 'Upgrade: tunmesh-fastpath/1'] });
    expect([deniedUpgrade.status, reasonOf(deniedUpgrade.body)], 'upgrade with a denied certificate').to.deep.equal([403, 'denied']);
    // And on the channel port, where a worker takes the connection and main judges its certificate.
    const channelPort = (await mesh.status(0)).channelPort;
    expect(channelPort, 'node 0 announces a channel port').to.be.a('number');
    const onChannelPort: Array<[string, IssuedCert | undefined, number, string]> = [
      ['no certificate', undefined, 401, 'client_cert_missing'],
      ['a certificate from another CA', other, 401, 'client_cert_untrusted'],
      ['a denied certificate', denied, 403, 'denied'],
    ];
    for (const [what, cert, status, reason] of onChannelPort) {
      const r = await request(mesh, 1, 0, `/tunmesh/fastpath/v1/${(await mesh.status(1)).id}`, { cert, port: channelPort, headers: ['Connection: Upgrade', 'Upgrade: tunmesh-fastpath/1'] });
      expect([r.status, reasonOf(r.body)], `channel port upgrade with ${what}`).to.deep.equal([status, reason]);
    }
    for (const path of ['/health', '/health/live', '/metrics', '/tunmesh/control/v0/node_info']) {
      expect((await request(mesh, 1, 0, path)).status, path).to.equal(200);
    }
    const after = await scrape(mesh, 1, 0);
    const grew = (reason: string): number => sampleValue(after, 'tunmesh_auth_failures_total', `reason="${reason}"`) - sampleValue(before, 'tunmesh_auth_failures_total', `reason="${reason}"`);
    expect(grew('client_cert_missing'), 'client_cert_missing (route + upgrade + channel port)').to.equal(3);
    expect(grew('client_cert_untrusted'), 'client_cert_untrusted (2 routes + channel port)').to.equal(3);
    expect(grew('denied'), 'denied (route + upgrade + channel port)').to.equal(3);
  });

  it('with client_auth request, takes a request without a certificate on its token but still refuses a bad certificate', async () => {
    const other = await pki.issue('other-request', { ips: ['198.18.0.1'], otherCa: true });
    const none = await request(mesh, 0, 1, REGISTER, { post: true });
    expect([none.status, reasonOf(none.body)], 'no certificate: the token decides').to.deep.equal([401, 'missing_header']);
    const bad = await request(mesh, 0, 1, REGISTER, { post: true, cert: other });
    expect([bad.status, reasonOf(bad.body)], 'another CA').to.deep.equal([401, 'client_cert_untrusted']);
    const peer0 = (await mesh.status(1)).peers.find((p) => p.url === mesh.node(0).url);
    expect(peer0?.certFingerprint, "node 0's certificate, checked and shown by node 1").to.equal(certs[0]?.fingerprint);
  });
});

describe('hot reload of the certificate and session renewal under a 10 ms ping stream', function () {
  this.timeout(120_000);
  let pki: TestPki;
  let mesh: MeshLab;
  let certs: IssuedCert[];

  before(async () => {
    const tag = uniquePrefix('tmh');
    pki = await TestPki.create(tag);
    const denyFile = pki.writeDenyFile('deny.yaml', {});
    // Sessions rotate every ~4 s (max age 6 - validity 2); the old key verifies 4 s more.
    ({ mesh, certs } = await mtlsLab(tag, 2, pki, denyFile, { sessionMaxAge: 6, validityWindow: 2, earlyValidityWindow: 1, sessionOverlap: 4 }));
    await mesh.startAll();
    await mesh.waitForFullMesh(30_000);
  });

  after(async () => {
    await mesh?.cleanup();
    pki?.cleanup();
  });

  it('refuses a broken file, swaps in a new certificate, renews channels across rotations, and loses no echo', async () => {
    const stream = mesh.pingStream(0, meshAddress(1), { durationS: 14 });
    await sleep(2000);
    const cert1 = certs[1] as IssuedCert;
    // A broken certificate file: refused with a log line, the old certificate stays in use.
    writeFileSync(`${cert1.certPath}.tmp`, 'not a certificate\n');
    renameSync(`${cert1.certPath}.tmp`, cert1.certPath);
    await waitFor(async () => sampleValue(await scrape(mesh, 0, 1), 'tunmesh_security_reloads_total', 'result="refused"') >= 1, { timeoutMs: 5000, what: 'the broken certificate to be refused' });
    expect(await servedFingerprint(mesh, 0, 1)).to.equal(cert1.fingerprint);
    const channelPort = (await mesh.status(1)).channelPort;
    expect(await servedFingerprint(mesh, 0, 1, channelPort), 'the channel port (a worker) keeps the old certificate too').to.equal(cert1.fingerprint);
    // A new certificate and key (same SAN): new connections get it, on the API port and on the
    // channel port, whose handshakes the workers do.
    const renewed = await pki.issue('node1', { ips: [new URL(mesh.node(1).url).hostname] });
    await waitFor(async () => (await servedFingerprint(mesh, 0, 1)) === renewed.fingerprint, { timeoutMs: 5000, what: 'node 1 to serve its new certificate' });
    await waitFor(async () => (await servedFingerprint(mesh, 0, 1, channelPort)) === renewed.fingerprint, { timeoutMs: 5000, what: "node 1's workers to serve its new certificate on the channel port" });
    // SIGHUP re-reads without changing anything when nothing changed.
    killPid(mesh.node(0).process?.child.pid as number, 'SIGHUP');
    await waitFor(async () => sampleValue(await scrape(mesh, 1, 0), 'tunmesh_security_reloads_total', 'result="unchanged"') >= 1, { timeoutMs: 5000, what: 'node 0 to reload on SIGHUP' });
    const r = await stream.result();
    console.log(`      ${r.transmitted} echoes at 10 ms, lost ${r.lost} (${r.trailingUnanswered} in flight at the end), longest silence ${r.longestGap.seconds} s`);
    expect(r.lost - r.trailingUnanswered, r.summary).to.equal(0);
    expect(sampleValue(await scrape(mesh, 0, 1), 'tunmesh_security_reloads_total', 'what="tls",result="applied"')).to.be.at.least(1);
    // Node 1 presents its new certificate to node 0 from its next registration on.
    await waitFor(async () => (await mesh.status(0)).peers[0]?.certFingerprint === renewed.fingerprint, { timeoutMs: 5000, what: "node 0 to see node 1's new client certificate" });
    // Nothing of node 1's presents the old one again: not its control plane, and not its workers'
    // channel dials (a TLS session resumed from before the reload would carry it).
    const backToOld = mesh.logTail(0, 1 << 20).split('\n').filter((l) => l.includes('peer presents a new client certificate') && l.includes(`"now":"${cert1.fingerprint.slice(0, 16)}"`));
    expect(backToOld, 'node 1 presenting its old certificate after the reload').to.deep.equal([]);
    const renewals = (mesh.logTail(0, 1 << 20).match(/fast channel renewed under a new session/g) ?? []).length;
    console.log(`      fast channels renewed under a new session by node 0: ${renewals}`);
    expect(renewals, 'channel renewals across session rotations').to.be.at.least(2);
    expect(await mesh.fullMesh()).to.equal(true);
  });

  it('closes, on the receiving side, a channel whose sender stays on a session that stopped verifying', async () => {
    const closed = (): number => (mesh.logTail(1, 1 << 20).match(/fast channel closed: its session key expired/g) ?? []).length;
    const before = closed();
    // Node 0's worker is frozen with its channel open: it cannot move to the next session.
    const worker = Number((await mesh.exec(0, 'pgrep', ['-P', String(mesh.node(0).process?.child.pid)])).stdout.trim().split('\n')[0]);
    expect(worker).to.be.greaterThan(0);
    const frozenAt = Date.now();
    killPid(worker, 'SIGSTOP');
    try {
      // One rotation (~4 s) and its overlap (4 s) later the old key is gone, and so is the channel.
      await waitFor(() => closed() > before, { timeoutMs: 20_000, intervalMs: 100, what: 'node 1 to close the channel of the stale session' });
      console.log(`      stale channel closed by the receiver ${Date.now() - frozenAt} ms after the sender froze`);
    } finally {
      killPid(worker, 'SIGCONT');
    }
    await waitFor(async () => (await pingFrom(mesh.node(0).ns, meshAddress(1), { count: 2, intervalS: 0.2, timeoutS: 1 })).received === 2, { timeoutMs: 15_000, what: 'traffic to resume on a new channel' });
  });
});

describe('revocation: a node denied at run time', function () {
  this.timeout(120_000);
  let pki: TestPki;
  let mesh: MeshLab;
  let certs: IssuedCert[];

  before(async () => {
    const tag = uniquePrefix('tmd');
    pki = await TestPki.create(tag);
    const denyFile = pki.writeDenyFile('deny.yaml', {});
    ({ mesh, certs } = await mtlsLab(tag, 3, pki, denyFile));
    await mesh.startAll();
    await mesh.waitForFullMesh(30_000);
  });

  after(async () => {
    await mesh?.cleanup();
    pki?.cleanup();
  });

  /** Pings node 0 from node 2 while `deny` is written; resolves with the measured cut-off once nodes 0 and 1 have groomed node 2 (bounded wait). */
  async function denyUnderPings(deny: { node_ids?: string[]; cert_fingerprints?: string[] }): Promise<void> {
    const id2 = (await mesh.status(2)).id;
    const stream = mesh.pingStream(2, meshAddress(0), { durationS: 8 });
    await sleep(1500);
    const deniedAt = Date.now();
    pki.writeDenyFile('deny.yaml', deny);
    const groomedMs = await waitFor(
      async () => {
        const known = await Promise.all([0, 1].map(async (i) => (await mesh.status(i)).peers.some((p) => p.id === id2)));
        return known.some(Boolean) ? false : Date.now() - deniedAt;
      },
      { timeoutMs: 5000, intervalMs: 20, what: 'nodes 0 and 1 to groom the denied node' },
    );
    await sleep(1500);
    stream.stop();
    const r = await stream.result();
    const cutMs = r.lastReplyAt === null ? null : Math.round(r.lastReplyAt * 1000 - deniedAt);
    console.log(`      deny file replaced -> last echo after ${cutMs} ms; groomed from both nodes after ${groomedMs} ms; ${r.received}/${r.transmitted} echoes answered`);
    expect(r.lastReplyAt, 'echoes were answered before the denial').to.not.equal(null);
    // The stream went on ~1.5 s after the groom; none of that was answered.
    expect(r.lastReplyAt as number, 'the last echo came before the groom was observed').to.be.below((deniedAt + groomedMs) / 1000 + 0.1);
  }

  it('is cut off once its node id is in the deny file, and rejoins once the entry is gone', async () => {
    await denyUnderPings({ node_ids: [(await mesh.status(2)).id] });
    pki.writeDenyFile('deny.yaml', {});
    const ms = await mesh.waitForFullMesh(20_000);
    console.log(`      full mesh again ${ms} ms after the entry was removed`);
  });

  it('is cut off once its fingerprint is in the deny file, and cannot come back under a new id', async () => {
    const id2 = (await mesh.status(2)).id;
    await denyUnderPings({ cert_fingerprints: [certs[2]?.fingerprint as string] });

    // Restarted, it has a new id but the same certificate: refused everywhere.
    const deniedBefore = sampleValue(await scrape(mesh, 1, 0), 'tunmesh_auth_failures_total', 'reason="denied"');
    await mesh.stop(2);
    await mesh.start(2);
    const newId = (await mesh.status(2)).id;
    expect(newId).to.not.equal(id2);
    await waitFor(async () => sampleValue(await scrape(mesh, 1, 0), 'tunmesh_auth_failures_total', 'reason="denied"') > deniedBefore, { timeoutMs: 10_000, what: 'node 0 to refuse the restarted node as denied' });
    await sleep(2000); // a few registration rounds
    for (const i of [0, 1]) expect((await mesh.status(i)).peers.map((p) => p.id), `node ${i}'s peers`).to.not.include(newId);
    expect((await mesh.status(2)).peers.filter((p) => p.state === 'up')).to.have.length(0);
    const ping = await pingFrom(mesh.node(2).ns, meshAddress(0), { count: 3, intervalS: 0.2, timeoutS: 1 });
    expect(ping.received).to.equal(0);
    expect(await mesh.fullMesh([0, 1])).to.equal(true);
  });
});
