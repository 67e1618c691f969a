// The client TLS material of the workers' dials (security/peer-tls.ts) follows a reload that
// changes the settings in place, over real TLS: the server sees the new client certificate.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { TestPki, type IssuedCert } from '../fixtures/test-pki.js';
import { peerTlsOptions, type PeerTlsSettings } from '../../src/security/peer-tls.js';
import { uniquePrefix } from '../helpers/netns.js';

describe('peer TLS options (worker dials)', function () {
  this.timeout(30_000);
  let pki: TestPki;
  let server: Server;
  let port: number;
  const seen: string[] = [];
  let a: IssuedCert;
  let b: IssuedCert;

  before(async () => {
    pki = await TestPki.create(uniquePrefix('tpt'));
    const serverCert = await pki.issue('server', { ips: ['127.0.0.1'] });
    a = await pki.issue('client-a', { ips: ['127.0.0.1'] });
    b = await pki.issue('client-b', { ips: ['127.0.0.1'] });
    server = createServer({ cert: readFileSync(serverCert.certPath), key: readFileSync(serverCert.keyPath), ca: readFileSync(pki.caPath), requestCert: true, rejectUnauthorized: true }, (s: TLSSocket) => {
      seen.push(s.getPeerCertificate().fingerprint256.replace(/:/g, '').toLowerCase());
      s.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(() => {
    server?.close();
    pki?.cleanup();
  });

  const materialOf = (c: IssuedCert): { certPem: string; keyPem: string } => ({ certPem: readFileSync(c.certPath, 'utf8'), keyPem: readFileSync(c.keyPath, 'utf8') });

  function dial(settings: PeerTlsSettings): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, ...peerTlsOptions(settings, '127.0.0.1') });
      s.once('error', reject);
      s.once('close', () => resolve());
      s.resume();
    });
  }

  it('keeps one context while the material is unchanged, and presents the new certificate after an in-place reload', async () => {
    const settings: PeerTlsSettings = { caPem: readFileSync(pki.caPath, 'utf8'), verifyHostname: false, ...materialOf(a) };
    const first = peerTlsOptions(settings, '127.0.0.1').secureContext;
    expect(peerTlsOptions(settings, '127.0.0.1').secureContext, 'the same material').to.equal(first);
    await dial(settings);
    // What a worker does with a settings message after a reload (workers/worker.ts).
    Object.assign(settings, materialOf(b));
    expect(peerTlsOptions(settings, '127.0.0.1').secureContext, 'new material').to.not.equal(first);
    await dial(settings);
    expect(seen).to.deep.equal([a.fingerprint, b.fingerprint]);
  });
});
