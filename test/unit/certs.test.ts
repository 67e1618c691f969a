// `tunmesh certs` as an operator runs it (the built CLI, a real process): the files it writes,
// their modes, what node's own X.509 and TLS code make of them, and the one-line refusals.
import { expect } from 'chai';
import { toClientCert } from '../../src/security/client-cert.js';
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSecureContext } from 'node:tls';
import { loadTlsMaterial } from '../../src/security/tls-bundle.js';
import { earliestNotAfter } from '../../src/security/cert-expiry.js';
import { serverTlsPolicy } from '../../src/security/tls-policy.js';

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function tunmesh(...args: string[]): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

const mode = (path: string): number => statSync(path).mode & 0o777;
const DAY_S = 86_400;

describe('tunmesh certs (the built CLI)', function () {
  this.timeout(60_000);
  let dir: string;
  let caDir: string;
  let nodeDir: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tunmesh-certs-'));
    caDir = join(dir, 'ca');
    nodeDir = join(dir, 'nodes');
    const ca = await tunmesh('certs', 'ca', 'create', '--out', caDir, '--name', 'Test Mesh CA');
    expect(ca.code, ca.stderr).to.equal(0);
    const node = await tunmesh('certs', 'node', 'issue', '--ca-dir', caDir, '--name', 'node-a', '--ip', '198.18.0.1', '--ip', '2001:2::1', '--dns', 'node-a.mesh.test', '--days', '45', '--out', nodeDir);
    expect(node.code, node.stderr).to.equal(0);
    expect(node.stdout).to.include(`cert_file_path: ${join(nodeDir, 'node-a.pem')}`);
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('ca create writes an ECDSA P-256 CA certificate (0644) and its key (0600)', () => {
    expect(mode(join(caDir, 'ca.pem'))).to.equal(0o644);
    expect(mode(join(caDir, 'ca-key.pem'))).to.equal(0o600);
    const ca = new X509Certificate(readFileSync(join(caDir, 'ca.pem')));
    expect(ca.ca).to.equal(true);
    expect(ca.subject).to.equal('CN=Test Mesh CA');
    expect(ca.publicKey.asymmetricKeyDetails?.namedCurve).to.equal('prime256v1');
    expect(ca.checkPrivateKey(createPrivateKey(readFileSync(join(caDir, 'ca-key.pem'))))).to.equal(true);
  });

  it('node issue writes a certificate node verifies against the CA, with the SANs and validity asked for', () => {
    const ca = new X509Certificate(readFileSync(join(caDir, 'ca.pem')));
    const cert = new X509Certificate(readFileSync(join(nodeDir, 'node-a.pem')));
    expect(mode(join(nodeDir, 'node-a-key.pem'))).to.equal(0o600);
    expect(cert.ca).to.equal(false);
    expect(cert.checkIssued(ca) && cert.verify(ca.publicKey)).to.equal(true);
    expect(cert.subjectAltName).to.equal('DNS:node-a.mesh.test, IP Address:198.18.0.1, IP Address:2001:2:0:0:0:0:0:1');
    expect(cert.checkIP('198.18.0.1')).to.equal('198.18.0.1');
    expect(cert.checkHost('node-a.mesh.test')).to.equal('node-a.mesh.test');
    expect(cert.keyUsage?.sort()).to.deep.equal(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    const days = (new Date(cert.validTo).getTime() - Date.now()) / 1000 / DAY_S;
    expect(days).to.be.within(44.9, 45);
  });

  it('the issued pair loads as a node\'s TLS material and in a TLS context with the policy', () => {
    const certPath = join(nodeDir, 'node-a.pem');
    const keyPath = join(nodeDir, 'node-a-key.pem');
    const material = loadTlsMaterial(certPath, keyPath);
    expect(material.notAfter).to.equal(earliestNotAfter(readFileSync(certPath)));
    expect(() => createSecureContext({ cert: material.cert, key: material.key, ca: readFileSync(join(caDir, 'ca.pem')), ...serverTlsPolicy() })).not.to.throw();
  });

  it('node issue --group writes each group as a URI SAN urn:tunmesh:group:NAME; show prints them', async () => {
    const out = join(dir, 'grouped');
    const r = await tunmesh('certs', 'node', 'issue', '--ca-dir', caDir, '--name', 'web-1', '--ip', '198.18.0.2', '--group', 'web', '--group', 'frontend', '--out', out);
    expect(r.code, r.stderr).to.equal(0);
    const cert = new X509Certificate(readFileSync(join(out, 'web-1.pem')));
    expect(cert.subjectAltName).to.equal('IP Address:198.18.0.2, URI:urn:tunmesh:group:frontend, URI:urn:tunmesh:group:web');
    expect(r.stdout).to.include('groups:     frontend, web');
    const json = await tunmesh('certs', 'show', join(out, 'web-1.pem'), '--json');
    expect((JSON.parse(json.stdout) as Array<{ groups: string[] }>)[0]?.groups).to.deep.equal(['frontend', 'web']);
    const peer = toClientCert(cert.toLegacyObject());
    expect(peer.groups, 'what a node reads from the verified peer certificate').to.deep.equal(['frontend', 'web']);
  });

  it('show prints subject, issuer, SANs, fingerprint and days to expiry of each certificate of a chain', async () => {
    const chain = join(dir, 'chain.pem');
    writeFileSync(chain, readFileSync(join(nodeDir, 'node-a.pem'), 'utf8') + readFileSync(join(caDir, 'ca.pem'), 'utf8'));
    const r = await tunmesh('certs', 'show', chain);
    expect(r.code, r.stderr).to.equal(0);
    const cert = new X509Certificate(readFileSync(join(nodeDir, 'node-a.pem')));
    expect(r.stdout).to.include('certificate 1 of 2').and.include('certificate 2 of 2');
    expect(r.stdout).to.include('subject:    CN=node-a').and.include('issuer:     CN=Test Mesh CA');
    expect(r.stdout).to.include(cert.fingerprint256);
    expect(r.stdout).to.match(/not after: .*\(4[45](\.\d)? days left\)/);
    const json = await tunmesh('certs', 'show', chain, '--json');
    const parsed = JSON.parse(json.stdout) as Array<{ fingerprintSha256: string; subjectAltNames: string[]; ca: boolean }>;
    expect(parsed.map((p) => p.ca)).to.deep.equal([false, true]);
    expect(parsed[0]?.subjectAltNames).to.include('IP Address:198.18.0.1');
  });

  it('issues RSA 3072 on request, and from a CA given as --ca-cert/--ca-key', async () => {
    const out = join(dir, 'rsa');
    const r = await tunmesh('certs', 'node', 'issue', '--ca-cert', join(caDir, 'ca.pem'), '--ca-key', join(caDir, 'ca-key.pem'), '--name', 'node-r', '--ip', '198.18.0.2', '--key', 'rsa-3072', '--out', out);
    expect(r.code, r.stderr).to.equal(0);
    const cert = new X509Certificate(readFileSync(join(out, 'node-r.pem')));
    expect(cert.publicKey.asymmetricKeyDetails?.modulusLength).to.equal(3072);
    expect(cert.verify(new X509Certificate(readFileSync(join(caDir, 'ca.pem'))).publicKey)).to.equal(true);
  });

  it('refuses to overwrite existing files without --force, and overwrites with it (modes kept)', async () => {
    const again = ['certs', 'node', 'issue', '--ca-dir', caDir, '--name', 'node-a', '--ip', '198.18.0.1', '--out', nodeDir];
    const before = readFileSync(join(nodeDir, 'node-a.pem'), 'utf8');
    const refused = await tunmesh(...again);
    expect(refused.code).to.equal(2);
    expect(refused.stderr).to.match(/^tunmesh certs: refusing to overwrite .*node-a\.pem.* \(use --force\)\n$/);
    expect(readFileSync(join(nodeDir, 'node-a.pem'), 'utf8')).to.equal(before);
    const forced = await tunmesh(...again, '--force');
    expect(forced.code, forced.stderr).to.equal(0);
    expect(readFileSync(join(nodeDir, 'node-a.pem'), 'utf8')).not.to.equal(before);
    expect(mode(join(nodeDir, 'node-a-key.pem'))).to.equal(0o600);
  });

  describe('refuses weak or malformed parameters with one line and exit code 2', () => {
    const out = (): string => join(dir, 'refused');
    const issue = (...extra: string[]): string[] => ['certs', 'node', 'issue', '--ca-dir', caDir, '--out', out(), ...extra];
    const cases: Array<[string, () => string[], RegExp]> = [
      ['RSA 2048', () => ['certs', 'ca', 'create', '--out', out(), '--key', 'rsa-2048'], /RSA keys shorter than 3072 bits/],
      ['an unknown key type', () => ['certs', 'ca', 'create', '--out', out(), '--key', 'ecdsa-p192'], /unknown key algorithm/],
      ['0 days', () => issue('--name', 'n', '--ip', '198.18.0.1', '--days', '0'), /at least one day/],
      ['-3 days', () => issue('--name', 'n', '--ip', '198.18.0.1', '--days=-3'), /whole number of days/],
      ['a node certificate over 397 days', () => issue('--name', 'n', '--ip', '198.18.0.1', '--days', '398'), /at most 397 days/],
      ['an IP that does not parse', () => issue('--name', 'n', '--ip', '198.18.0.256'), /not an IPv4 or IPv6 address/],
      ['an address given as --dns', () => issue('--name', 'n', '--dns', '198.18.0.1'), /not a DNS name/],
      ['no SAN at all', () => issue('--name', 'n'), /at least one --ip or --dns/],
      ['a group name with a space', () => issue('--name', 'n', '--ip', '198.18.0.1', '--group', 'web servers'), /--group "web servers": not a group name/],
      ['a name that is a path', () => issue('--name', '../n', '--ip', '198.18.0.1'), /--name/],
      ['a missing CA', () => ['certs', 'node', 'issue', '--ca-dir', join(dir, 'none'), '--name', 'n', '--ip', '198.18.0.1', '--out', out()], /cannot read CA certificate .*: no such file/],
      ['a node certificate as CA', () => ['certs', 'node', 'issue', '--ca-cert', join(nodeDir, 'node-a.pem'), '--ca-key', join(nodeDir, 'node-a-key.pem'), '--name', 'n', '--ip', '198.18.0.1', '--out', out()], /not a CA certificate/],
      ['a key file given to show', () => ['certs', 'show', join(caDir, 'ca-key.pem')], /no PEM certificate/],
    ];
    // Independent processes: run them side by side.
    const results: RunResult[] = [];
    before(async () => {
      results.push(...(await Promise.all(cases.map(([, args]) => tunmesh(...args())))));
    });
    cases.forEach(([what, , message], i) => {
      it(what, () => {
        const r = results[i] as RunResult;
        expect(r.code, r.stdout + r.stderr).to.equal(2);
        const first = r.stderr.split('\n')[0] ?? '';
        expect(first).to.match(/^tunmesh certs: /).and.match(message);
        expect(r.stderr).not.to.match(/\n\s+at /);
      });
    });

    it('wrote nothing for any of them', () => {
      expect(() => statSync(out())).to.throw(/ENOENT/);
    });
  });
});
