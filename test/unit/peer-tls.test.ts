// The workers' client TLS material (security/peer-tls.ts) follows a reload that changes the
// settings in place, over real TLS: a server requiring client certificates sees the new one, from
// a fast-channel style dial and from the legacy sender's kept-alive agent.
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { connect, type TLSSocket } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { Registry as PromRegistry } from 'prom-client';
import { TestPki, type IssuedCert } from '../fixtures/test-pki.js';
import { peerTlsOptions, type PeerTlsSettings } from '../../src/security/peer-tls.js';
import { LegacySender } from '../../src/dataplane/legacy/sender.js';
import type { DataPlaneSettings, PeerRoute } from '../../src/dataplane/contract.js';
import { SessionSigner } from '../../src/dataplane/session-token.js';
import { DataPlaneMetrics } from '../../src/dataplane/metrics.js';
import { lazyLogger } from '../../src/log/logger.js';
import { uniquePrefix, waitFor } from '../helpers/netns.js';

describe('peer TLS options (worker dials)', function () {
  this.timeout(30_000);
  let pki: TestPki;
  let server: Server;
  let port: number;
  let seen: string[] = [];
  let a: IssuedCert;
  let b: IssuedCert;

  before(async () => {
    pki = await TestPki.create(uniquePrefix('tpt'));
    const serverCert = await pki.issue('server', { ips: ['127.0.0.1'] });
    a = await pki.issue('client-a', { ips: ['127.0.0.1'] });
    b = await pki.issue('client-b', { ips: ['127.0.0.1'] });
    server = createServer({ cert: readFileSync(serverCert.certPath), key: readFileSync(serverCert.keyPath), ca: readFileSync(pki.caPath), requestCert: true, rejectUnauthorized: true }, (req, res) => {
      req.resume();
      req.once('end', () => res.end());
    });
    // Each TLS connection once, as the server sees its client certificate.
    server.on('secureConnection', (s: TLSSocket) => seen.push(s.getPeerCertificate().fingerprint256.replace(/:/g, '').toLowerCase()));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  beforeEach(() => {
    seen = [];
  });

  after(() => {
    server?.closeAllConnections();
    server?.close();
    pki?.cleanup();
  });

  const materialOf = (c: IssuedCert): { certPem: string; keyPem: string } => ({ certPem: readFileSync(c.certPath, 'utf8'), keyPem: readFileSync(c.keyPath, 'utf8') });

  function dial(settings: PeerTlsSettings): Promise<void> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port, ...peerTlsOptions(settings, '127.0.0.1') });
      s.once('error', reject);
      s.once('secureConnect', () => s.end());
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
    await waitFor(() => seen.length === 2, { timeoutMs: 5000, what: 'both handshakes' });
    expect(seen).to.deep.equal([a.fingerprint, b.fingerprint]);
  });

  it('the legacy sender leaves its kept-alive connection for a new one after an in-place reload', async () => {
    const settings = {
      caPem: readFileSync(pki.caPath, 'utf8'),
      verifyHostname: false,
      ...materialOf(a),
      requestTimeoutMs: 5000,
      maxBatchSize: 16,
      queueLimit: 16,
      packetExpirationLocal: 10,
      packetExpirationMesh: 10,
    } as DataPlaneSettings;
    const registry = new PromRegistry();
    const deps = { selfId: 'self', mtu: 1500, settings, signer: new SessionSigner('self', 5, 30, {}), metrics: new DataPlaneMetrics(registry), onRejected: () => undefined, log: lazyLogger('error') };
    const peer: PeerRoute = {
      id: 'peer',
      url: `https://127.0.0.1:${port}`,
      addressCidr: '198.19.0.2/24',
      networkCidr: '198.19.0.0/16',
      path: 'legacy',
      scope: 'local',
      kind: 'original',
      address6Cidr: null,
      session: { id: 'a0000000-0000-4000-8000-000000000000', secretB64: Buffer.alloc(64, 1).toString('base64') },
    };
    const sender = new LegacySender(peer, deps);
    const packet = Buffer.alloc(28);
    packet[0] = 0x45;
    const sent = async (n: number): Promise<void> => {
      expect(sender.append(packet, 0, packet.length)).to.equal(null);
      sender.flush();
      await waitFor(async () => (await registry.getSingleMetric('tunmesh_peer_tx_packets_total')?.get())?.values[0]?.value === n, { timeoutMs: 5000, what: `packet ${n} posted` });
    };
    try {
      await sent(1);
      await sent(2);
      expect(seen, 'one kept-alive connection').to.deep.equal([a.fingerprint]);
      Object.assign(settings, materialOf(b));
      await sent(3);
      expect(seen).to.deep.equal([a.fingerprint, b.fingerprint]);
    } finally {
      sender.close();
    }
  });
});
