// TLS on real nodes in namespaces: the suites a node serves and offers (forward-secret AEAD only
// for TLS 1.2, TLS 1.3 as node has it), with the lab's RSA certificate and with per-node ECDSA
// certificates from a lab CA made by src/certs; the CA verifies the nodes (IP SANs included);
// the certificate-expiry gauges on a real scrape.
import { expect } from 'chai';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ConnectionOptions } from 'node:tls';
import { MeshLab } from '../../src/lab/mesh-lab.js';
import { makeLabPki } from '../../src/lab/pki.js';
import { TLS12_SUITES } from '../../src/security/tls-policy.js';
import { uniquePrefix, tsxArgs, killPid, ProcessOutput } from '../helpers/netns.js';

const PROBE = fileURLToPath(new URL('../fixtures/tls-probe.ts', import.meta.url));
const PORT = 4567;

type Outcome = { ok: true; protocol: string; cipher: string } | { ok: false; code: string };

/** The server refused: its handshake_failure alert (no suite in common), not a client-side error. */
const NO_SHARED_SUITE = 'ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE';
const PROTOCOL_VERSION = 'ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION';

const tls12 = (ciphers: string): ConnectionOptions => ({ ciphers, minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });

/** Runs TLS clients with `options` (in turn) from node `from`'s namespace against node `to`. */
async function probe(mesh: MeshLab, from: number, to: number, options: ConnectionOptions[]): Promise<Outcome[]> {
  const host = new URL(mesh.node(to).url).hostname;
  const r = await mesh.exec(from, process.execPath, tsxArgs(PROBE, 'probe', host, String(PORT), JSON.stringify(options)), 60_000);
  expect(r.code, r.stderr).to.equal(0);
  return JSON.parse(r.stdout) as Outcome[];
}

/** sslscan's question from node `from`: which TLS 1.2 suites, each offered alone, does node `to` accept? */
async function sweep(mesh: MeshLab, from: number, to: number): Promise<{ tried: number; accepted: string[] }> {
  const host = new URL(mesh.node(to).url).hostname;
  const r = await mesh.exec(from, process.execPath, tsxArgs(PROBE, 'sweep', host, String(PORT)), 120_000);
  expect(r.code, r.stderr).to.equal(0);
  return JSON.parse(r.stdout) as { tried: number; accepted: string[] };
}

describe('TLS suites of a real node (lab RSA certificate)', function () {
  this.timeout(180_000);
  let mesh: MeshLab;

  before(async () => {
    mesh = await MeshLab.create({ tag: uniquePrefix('tls'), nodes: 2 });
    await mesh.startAll();
    await mesh.waitForFullMesh(30_000);
  });

  after(async () => {
    await mesh?.cleanup();
  });

  it('the nodes mesh with the policy on both ends and a ping crosses', async () => {
    const pings = await mesh.pingMatrix(3);
    expect(pings.map((p) => p.lost)).to.deep.equal([0, 0]);
  });

  it('of every TLS 1.2 suite OpenSSL knows, each offered alone, accepts exactly the ECDHE-RSA AEAD ones', async () => {
    const r = await sweep(mesh, 1, 0);
    expect(r.tried).to.be.greaterThan(50);
    expect([...r.accepted].sort()).to.deep.equal(TLS12_SUITES.filter((s) => s.startsWith('ECDHE-RSA-')).sort());
  });

  it('refuses TLS 1.2 clients that offer only static-RSA, CBC, DHE or CCM suites', async () => {
    const refused = ['AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'AES128-SHA', 'ECDHE-RSA-AES128-SHA', 'ECDHE-RSA-AES256-SHA384', 'DHE-RSA-AES128-GCM-SHA256', 'AES256-CCM8'];
    const outcomes = await probe(mesh, 1, 0, refused.map(tls12));
    expect(outcomes).to.deep.equal(refused.map(() => ({ ok: false, code: NO_SHARED_SUITE })));
  });

  it('accepts TLS 1.2 with ECDHE-RSA and AES-GCM or ChaCha20-Poly1305', async () => {
    const accepted = ['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305'];
    const outcomes = await probe(mesh, 1, 0, accepted.map(tls12));
    expect(outcomes).to.deep.equal(accepted.map((cipher) => ({ ok: true, protocol: 'TLSv1.2', cipher })));
  });

  it('picks by its own order, accepts TLS 1.3 and refuses TLS 1.1', async () => {
    const [ordered, v13, v11] = await probe(mesh, 1, 0, [
      tls12('ECDHE-RSA-CHACHA20-POLY1305:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-AES128-GCM-SHA256'),
      { minVersion: 'TLSv1.3' },
      // SECLEVEL=0 so that it is the server, not OpenSSL 3's client defaults, that refuses 1.1.
      { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' },
    ]);
    expect(ordered).to.deep.equal({ ok: true, protocol: 'TLSv1.2', cipher: 'ECDHE-RSA-AES128-GCM-SHA256' });
    expect(v13).to.deep.equal({ ok: true, protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' });
    expect(v11).to.deep.equal({ ok: false, code: PROTOCOL_VERSION });
  });

  describe('outbound: the peer HTTP client, fast channels and the legacy sender', () => {
    const servers: ProcessOutput[] = [];
    after(async () => {
      for (const s of servers) {
        if (!s.exited) killPid(s.child.pid as number);
        await s.waitForExit(5000).catch(() => undefined);
      }
    });

    /** A TLS 1.2 server offering only `ciphers` in node 1's namespace; resolves once it listens. */
    async function weakPeer(port: number, ciphers: string): Promise<void> {
      const host = new URL(mesh.node(1).url).hostname;
      const args = tsxArgs(PROBE, 'serve', host, String(port), ciphers, mesh.creds.certPath, mesh.creds.keyPath);
      const server = new ProcessOutput(mesh.lab.spawn(1, process.execPath, args));
      servers.push(server);
      await server.waitForLine(/"listening":true/, { timeoutMs: 30_000, what: `test server on ${host}:${port}` });
    }

    async function peer(port: number): Promise<{ http: { ok: boolean; status?: number; error?: string }; channel: Outcome }> {
      const host = new URL(mesh.node(1).url).hostname;
      const r = await mesh.exec(0, process.execPath, tsxArgs(PROBE, 'peer', host, String(port), mesh.creds.certPath), 60_000);
      expect(r.code, r.stderr).to.equal(0);
      return JSON.parse(r.stdout) as { http: { ok: boolean; status?: number; error?: string }; channel: Outcome };
    }

    it('do not connect to a peer that offers only static-RSA or CBC suites', async () => {
      await weakPeer(4601, 'AES128-GCM-SHA256:AES256-SHA256:ECDHE-RSA-AES128-SHA');
      const r = await peer(4601);
      expect(r.http.ok).to.equal(false);
      expect(r.http.error).to.match(/handshake failure/i);
      expect(r.channel).to.deep.equal({ ok: false, code: NO_SHARED_SUITE });
    });

    it('connect to a peer with an accepted suite', async () => {
      await weakPeer(4602, 'ECDHE-RSA-AES256-GCM-SHA384');
      const r = await peer(4602);
      expect(r.http).to.deep.equal({ ok: true, status: 200 });
      expect(r.channel).to.deep.equal({ ok: true, protocol: 'TLSv1.2', cipher: 'ECDHE-RSA-AES256-GCM-SHA384' });
    });
  });
});

describe('per-node ECDSA certificates from a lab CA (src/certs), on real nodes', function () {
  this.timeout(180_000);
  let mesh: MeshLab;
  let otherCaDir: string;

  before(async () => {
    mesh = await MeshLab.create({ tag: uniquePrefix('tlc'), nodes: 2, perNodeCerts: true });
    otherCaDir = mkdtempSync(join(tmpdir(), 'tunmesh-other-ca-'));
    await mesh.startAll();
    await mesh.waitForFullMesh(30_000);
  });

  after(async () => {
    await mesh?.cleanup();
    if (otherCaDir) rmSync(otherCaDir, { recursive: true, force: true });
  });

  it('each node has its own certificate, naming its underlay address, and a ping crosses', async () => {
    const certs = mesh.nodes.map((n) => new X509Certificate(readFileSync(n.tls.certPath)));
    expect(certs[0]?.fingerprint256).not.to.equal(certs[1]?.fingerprint256);
    mesh.nodes.forEach((n, i) => expect(certs[i]?.subjectAltName).to.equal(`IP Address:${new URL(n.url).hostname}`));
    const pings = await mesh.pingMatrix(3);
    expect(pings.map((p) => p.lost)).to.deep.equal([0, 0]);
  });

  it('curl verifies a node against the lab CA, IP SAN included, and refuses it against another CA', async () => {
    const other = await makeLabPki(otherCaDir, { name: 'another CA' });
    const curl = (ca: string): Promise<{ code: number; stdout: string }> =>
      mesh.exec(1, 'curl', ['-s', '--max-time', '10', '--cacert', ca, '-o', '/dev/null', '-w', '%{http_code}', `${mesh.node(0).url}/health`]);
    expect(await curl(mesh.pki?.caPath ?? '')).to.include({ code: 0, stdout: '200' });
    // 60: peer certificate cannot be authenticated with the given CA.
    expect((await curl(other.caPath)).code).to.equal(60);
  });

  it('of every TLS 1.2 suite OpenSSL knows, each offered alone, accepts exactly the ECDHE-ECDSA AEAD ones', async () => {
    const r = await sweep(mesh, 1, 0);
    expect([...r.accepted].sort()).to.deep.equal(TLS12_SUITES.filter((s) => s.startsWith('ECDHE-ECDSA-')).sort());
  });

  it('serves ECDHE-ECDSA AEAD suites and refuses ECDSA CBC ones', async () => {
    const outcomes = await probe(mesh, 1, 0, [tls12('ECDHE-ECDSA-AES256-GCM-SHA384'), tls12('ECDHE-ECDSA-CHACHA20-POLY1305'), tls12('ECDHE-ECDSA-AES128-SHA'), tls12('ECDHE-ECDSA-AES256-SHA384')]);
    expect(outcomes).to.deep.equal([
      { ok: true, protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-AES256-GCM-SHA384' },
      { ok: true, protocol: 'TLSv1.2', cipher: 'ECDHE-ECDSA-CHACHA20-POLY1305' },
      { ok: false, code: NO_SHARED_SUITE },
      { ok: false, code: NO_SHARED_SUITE },
    ]);
  });

  it('/metrics has seconds to expiry of the node certificate and of the CA', async () => {
    const scrape = await mesh.curl(1, [`${mesh.node(0).url}/metrics`]);
    expect(scrape.status).to.equal(200);
    const gauge = (kind: string): number => {
      const line = scrape.body.split('\n').find((l) => l.startsWith('tunmesh_tls_certificate_expiry_seconds{') && l.includes(`kind="${kind}"`));
      expect(line, `kind="${kind}" in the scrape`).to.be.a('string');
      return Number(line?.split(' ').pop());
    };
    const secondsLeft = (path: string): number => (new Date(new X509Certificate(readFileSync(path)).validTo).getTime() - Date.now()) / 1000;
    // The scrape happened a moment before this computation: allow a few minutes of a slow machine.
    expect(gauge('node')).to.be.within(secondsLeft(mesh.node(0).tls.certPath), secondsLeft(mesh.node(0).tls.certPath) + 300);
    expect(gauge('ca')).to.be.within(secondsLeft(mesh.pki?.caPath ?? ''), secondsLeft(mesh.pki?.caPath ?? '') + 300);
    expect(gauge('ca')).to.be.greaterThan(gauge('node'));
  });
});
