// `tunmesh certs node issue`: a node certificate signed by our CA, for both ends of TLS
// (EKU serverAuth + clientAuth), naming the node's addresses and DNS names as SANs, since peers
// (and mutual TLS) check those. The result is verified against the CA before it is returned.
import { X509Certificate as NodeX509, createPrivateKey } from 'node:crypto';
import { CertsError } from './errors.js';
import { GROUP_URI_PREFIX } from '../security/groups.js';
import { x509 } from './x509.js';
import { generateKey, importSigningKey, type SigningKey } from './keys.js';
import { randomSerial, validity } from './serial.js';
import type { IssuedPem } from './ca.js';
import type { KeyAlgorithm, SubjectAltNames } from './params.js';

export interface LoadedCa {
  cert: x509.X509Certificate;
  nodeCert: NodeX509;
  key: SigningKey;
  certPem: string;
}

export interface NodeRequest {
  name: string;
  sans: SubjectAltNames;
  algorithm: KeyAlgorithm;
  days: number;
  /** Start of validity (default now); the lab uses a past one to make expired certificates. */
  validFrom?: Date;
}

/** Reads a CA (certificate + key PEM) and checks that it is one, is current and the key matches. */
export async function loadCa(certPem: string, keyPem: string, certSource: string, keySource: string): Promise<LoadedCa> {
  let nodeCert: NodeX509;
  try {
    nodeCert = new NodeX509(certPem);
  } catch {
    throw new CertsError(`${certSource}: not a PEM certificate`);
  }
  if (!nodeCert.ca) throw new CertsError(`${certSource}: not a CA certificate (basicConstraints CA:TRUE missing)`);
  if (new Date(nodeCert.validTo).getTime() <= Date.now()) throw new CertsError(`${certSource}: the CA expired on ${nodeCert.validTo}`);
  const key = await importSigningKey(keyPem, keySource);
  if (!nodeCert.checkPrivateKey(createPrivateKey(keyPem))) throw new CertsError(`${keySource} is not the key of ${certSource}`);
  return { cert: new x509.X509Certificate(nodeCert.raw), nodeCert, key, certPem: nodeCert.toString() };
}

export async function issueNodeCertificate(ca: LoadedCa, req: NodeRequest): Promise<IssuedPem> {
  const { notBefore, notAfter } = validity(req.days, req.validFrom?.getTime());
  if (notAfter > ca.cert.notAfter) {
    throw new CertsError(`--days ${req.days} outlives the CA (it expires on ${ca.cert.notAfter.toISOString()}); issue fewer days or renew the CA`);
  }
  const key = await generateKey(req.algorithm);
  const usage = x509.KeyUsageFlags.digitalSignature | (req.algorithm.startsWith('rsa') ? x509.KeyUsageFlags.keyEncipherment : 0);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: [{ CN: [req.name] }],
    issuer: ca.cert.subjectName,
    notBefore,
    notAfter,
    publicKey: key.publicKey,
    signingKey: ca.key.privateKey,
    signingAlgorithm: ca.key.signingAlgorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usage, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      new x509.SubjectAlternativeNameExtension([
        ...req.sans.dns.map((value) => ({ type: 'dns' as const, value })),
        ...req.sans.ips.map((value) => ({ type: 'ip' as const, value })),
        ...req.sans.groups.map((name) => ({ type: 'url' as const, value: `${GROUP_URI_PREFIX}${name}` })),
      ]),
      await x509.SubjectKeyIdentifierExtension.create(key.publicKey),
      await authorityKeyIdentifier(ca),
    ],
  });
  const certPem = cert.toString('pem') + '\n';
  assertIssuedBy(certPem, ca.nodeCert);
  return { certPem, keyPem: key.privateKeyPem, notAfter };
}

/** The CA's own key identifier when it has one (openssl-made CAs too), else one from its key. */
async function authorityKeyIdentifier(ca: LoadedCa): Promise<x509.AuthorityKeyIdentifierExtension> {
  const ski = ca.cert.getExtension(x509.SubjectKeyIdentifierExtension);
  return ski ? new x509.AuthorityKeyIdentifierExtension(ski.keyId) : x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey);
}

/** Checked with node's own X.509 code, the one that verifies it in TLS. */
function assertIssuedBy(certPem: string, caCert: NodeX509): void {
  const cert = new NodeX509(certPem);
  if (!cert.checkIssued(caCert) || !cert.verify(caCert.publicKey)) {
    throw new CertsError('the issued certificate does not verify against the CA (please report this)');
  }
}
