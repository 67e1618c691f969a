// The real original (Ruby Tun Mesh v0.7, Puma) with certificates from src/certs (what `tunmesh
// certs` issues: ECDSA P-256, one CA as ca_file_path) beside a tunmesh node: the mixed mesh
// carries packets both ways, and Puma accepts tunmesh's TLS 1.2 suite list.
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { MeshLab } from '../../src/lab/mesh-lab.js';
import { ensureOriginalBuilt } from '../../src/lab/original.js';
import { TLS12_SUITES } from '../../src/security/tls-policy.js';
import { tsxArgs, uniquePrefix, waitFor } from '../helpers/netns.js';

const PROBE = fileURLToPath(new URL('../fixtures/tls-probe.ts', import.meta.url));

describe('interop: the original and tunmesh on per-node ECDSA certificates from one CA', function () {
  this.timeout(240_000);
  let mesh: MeshLab;

  before(async function () {
    this.timeout(600_000); // the first build of the original installs Ruby on a new machine
    await ensureOriginalBuilt();
    mesh = await MeshLab.create({ tag: uniquePrefix('tmc'), nodes: 2, legacyInterop: true, perNodeCerts: true, kind: (i) => (i === 0 ? 'original' : 'tunmesh') });
    await mesh.startAll();
  });
  after(async () => mesh?.cleanup());

  it('both ways, packets cross', async () => {
    await waitFor(async () => (await mesh.pingMatrix(1)).every((p) => p.ok), { timeoutMs: 60_000, intervalMs: 500, what: 'pings both ways' });
    const pings = await mesh.pingMatrix(3);
    expect(pings.map((p) => p.lost)).to.deep.equal([0, 0]);
  });

  it("Puma accepts tunmesh's TLS 1.2 suites (ECDHE-ECDSA with AES-GCM) and verifies against the CA", async () => {
    const host = new URL(mesh.node(0).url).hostname;
    const offer = [{ ciphers: TLS12_SUITES.join(':'), minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' }];
    const r = await mesh.exec(1, process.execPath, tsxArgs(PROBE, 'probe', host, '4567', JSON.stringify(offer)), 60_000);
    expect(r.code, r.stderr).to.equal(0);
    const [outcome] = JSON.parse(r.stdout) as Array<{ ok: boolean; protocol?: string; cipher?: string }>;
    expect(outcome?.ok).to.equal(true);
    expect(outcome?.protocol).to.equal('TLSv1.2');
    expect(TLS12_SUITES as readonly string[]).to.include(outcome?.cipher);
    expect(outcome?.cipher).to.match(/^ECDHE-ECDSA-/);
    const curl = await mesh.exec(1, 'curl', ['-s', '--max-time', '10', '--cacert', mesh.pki?.caPath ?? '', '-o', '/dev/null', '-w', '%{http_code}', `${mesh.node(0).url}/health`]);
    expect(curl.stdout).to.match(/^[2-5]\d\d$/);
    expect(curl.code).to.equal(0);
  });
});
