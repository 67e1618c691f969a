// The pure parts of node identity: the deny file's format, SAN matching for identity binding,
// and the policy's answers for each client-auth mode (the TLS side runs in test/integration/mtls.test.ts).
import { expect } from 'chai';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DenyList, parseDenyList } from '../../src/security/deny-list.js';
import { CertRefusal, ClientCertPolicy, certCovers, normalizeFingerprint, type ClientCert } from '../../src/security/client-cert.js';
import { refusalOf } from '../../src/security/refusal.js';
import { AuthError } from '../../src/auth/errors.js';
import { configFromObject } from '../../src/config/load.js';
import { ConfigError } from '../../src/config/errors.js';
import { makeTlsDir, type TlsDir } from '../fixtures/configs/fixtures.js';

const FP = 'ab'.repeat(32);
const cert = (over: Partial<ClientCert> = {}): ClientCert => ({ fingerprint: FP, ips: ['198.18.0.1', '2001:2::1'], dns: ['node1.mesh.test', '*.pods.mesh.test'], groups: [], notAfter: 0, subject: 'CN=n', ...over });

describe('deny file', () => {
  it('reads node ids and fingerprints, colons and case ignored', () => {
    const colons = FP.toUpperCase().match(/../g)?.join(':') as string;
    expect(parseDenyList(`node_ids: [a1, b2]\ncert_fingerprints: ["${colons}"]\n`)).to.deep.equal({ nodeIds: ['a1', 'b2'], fingerprints: [FP] });
  });

  it('takes an empty file or {} as an empty list', () => {
    expect(parseDenyList('')).to.deep.equal({ nodeIds: [], fingerprints: [] });
    expect(parseDenyList('{}')).to.deep.equal({ nodeIds: [], fingerprints: [] });
  });

  it('refuses unknown keys, non-lists and fingerprints that are not SHA-256', () => {
    expect(() => parseDenyList('nodes: [a]')).to.throw(/unknown key nodes/);
    expect(() => parseDenyList('node_ids: a')).to.throw(/node_ids must be a list/);
    expect(() => parseDenyList('cert_fingerprints: [abcd]')).to.throw(/not a SHA-256 fingerprint/);
    expect(() => parseDenyList('[1, 2]')).to.throw(/must be a mapping/);
  });

  it('says whether a new list differs from the one in use', () => {
    const deny = new DenyList();
    expect(deny.replace({ nodeIds: ['a'], fingerprints: [FP] })).to.equal(true);
    expect(deny.replace({ nodeIds: ['a'], fingerprints: [FP] })).to.equal(false);
    expect(deny.deniesId('a')).to.equal(true);
    expect(deny.deniesFingerprint(FP.toUpperCase().match(/../g)?.join(':') as string)).to.equal(true);
    expect(deny.replace({ nodeIds: [], fingerprints: [] })).to.equal(true);
    expect(deny.deniesId('a')).to.equal(false);
  });
});

describe('identity binding: the URL host among the certificate SANs', () => {
  it('matches IP hosts against IP SANs, IPv6 in any spelling', () => {
    expect(certCovers(cert(), '198.18.0.1')).to.equal(true);
    expect(certCovers(cert(), '198.18.0.2')).to.equal(false);
    expect(certCovers(cert(), '2001:2:0:0::1')).to.equal(true);
  });

  it('matches names exactly or under one leftmost wildcard label', () => {
    expect(certCovers(cert(), 'node1.mesh.test')).to.equal(true);
    expect(certCovers(cert(), 'NODE1.mesh.test'.toLowerCase())).to.equal(true);
    expect(certCovers(cert(), 'a.pods.mesh.test')).to.equal(true);
    expect(certCovers(cert(), 'a.b.pods.mesh.test')).to.equal(false);
    expect(certCovers(cert(), 'node2.mesh.test')).to.equal(false);
  });

  it('refuses a claimed URL the certificate does not name (san_mismatch, 403), and binds nothing without a certificate', () => {
    const policy = new ClientCertPolicy('require', new DenyList());
    expect(() => policy.bind(cert(), 'https://198.18.0.1:4567', 'n1')).to.not.throw();
    expect(() => policy.bind(cert(), 'https://[2001:2::1]:4567', 'n1')).to.not.throw();
    expect(() => policy.bind(null, 'https://198.18.0.9:4567', 'n1')).to.not.throw();
    try {
      policy.bind(cert(), 'https://198.18.0.9:4567', 'n1');
      expect.fail('bind should refuse');
    } catch (err) {
      expect(err).to.be.instanceOf(CertRefusal);
      expect(refusalOf(err)).to.deep.equal({ status: 403, reason: 'san_mismatch' });
    }
  });
});

describe('client certificate policy without a TLS connection', () => {
  it('off looks at nothing; require refuses a connection that has no certificate; request lets it through', () => {
    const deny = new DenyList();
    expect(new ClientCertPolicy('off', deny).inspect(undefined)).to.equal(null);
    expect(new ClientCertPolicy('request', deny).inspect(undefined)).to.equal(null);
    expect(() => new ClientCertPolicy('require', deny).inspect(undefined)).to.throw(CertRefusal, /client_cert_missing/);
  });

  it('maps refusals to statuses: denied 403, missing/untrusted and token failures 401', () => {
    expect(refusalOf(new AuthError('denied', 'x'))).to.deep.equal({ status: 403, reason: 'denied' });
    expect(refusalOf(new AuthError('bad_signature', 'x'))).to.deep.equal({ status: 401, reason: 'bad_signature' });
    expect(refusalOf(new CertRefusal('client_cert_untrusted', 'x'))).to.deep.equal({ status: 401, reason: 'client_cert_untrusted' });
    expect(refusalOf(new Error('x'))).to.equal(null);
    expect(normalizeFingerprint('AB:CD')).to.equal('abcd');
  });
});

describe('config: tunmesh.tls.client_auth and tunmesh.security.deny_file', () => {
  let tls: TlsDir;
  before(() => {
    tls = makeTlsDir();
  });

  const withTunmesh = (tunmesh: Record<string, unknown>): Record<string, unknown> => ({
    tun_mesh: {
      config_version: 1.1,
      clustering: { control_api_advertise_url: 'https://198.18.1.1:4567', auth: { secret: '0123456789abcdef0123456789abcdef' }, bootstrap_groups: {} },
      control_api: { ssl: { cert_file_path: tls.cert, key_file_path: tls.key } },
      networking: { ipv4: { network_cidr: '198.19.0.0/16', node_address_cidr: '198.19.1.1/24' } },
      process: { uid: 1000 },
    },
    tunmesh,
  });

  it('default to off and no deny file (the original model)', () => {
    expect(configFromObject(withTunmesh({})).security).to.deep.equal({ clientAuth: 'off', denyFile: null });
  });

  it('take require and an absolute deny file path, also from the environment', () => {
    const deny = join(dirname(tls.cert), 'deny.yaml');
    writeFileSync(deny, 'node_ids: []\n');
    expect(configFromObject(withTunmesh({ tls: { client_auth: 'require' }, security: { deny_file: deny } })).security).to.deep.equal({ clientAuth: 'require', denyFile: deny });
    expect(configFromObject(withTunmesh({}), { TUNMESH_TLS_CLIENT_AUTH: 'request', TUNMESH_DENY_FILE: deny }).security).to.deep.equal({ clientAuth: 'request', denyFile: deny });
  });

  it('refuse an unknown mode, a relative deny file path and a missing deny file, naming the key', () => {
    expect(() => configFromObject(withTunmesh({ security: { deny_file: '/nonexistent/deny.yaml' } }))).to.throw(ConfigError, /tunmesh\/security\/deny_file: file \/nonexistent\/deny.yaml does not exist/);
    expect(() => configFromObject(withTunmesh({ tls: { client_auth: 'maybe' } }))).to.throw(ConfigError, /tunmesh\/tls\/client_auth/);
    expect(() => configFromObject(withTunmesh({ security: { deny_file: 'deny.yaml' } }))).to.throw(ConfigError, /tunmesh\/security\/deny_file: must be an absolute path/);
  });
});
