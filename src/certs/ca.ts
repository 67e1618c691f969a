// `tunmesh certs ca create`: a self-signed CA that only signs node certificates (path length 0).
import { x509 } from './x509.js';
import { generateKey } from './keys.js';
import { randomSerial, validity } from './serial.js';
import type { KeyAlgorithm } from './params.js';

export interface CaRequest {
  commonName: string;
  algorithm: KeyAlgorithm;
  days: number;
}

export interface IssuedPem {
  certPem: string;
  keyPem: string;
  notAfter: Date;
}

export async function createCa(req: CaRequest): Promise<IssuedPem> {
  const key = await generateKey(req.algorithm);
  const { notBefore, notAfter } = validity(req.days);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [req.commonName] }],
    notBefore,
    notAfter,
    signingAlgorithm: key.signingAlgorithm,
    keys: { privateKey: key.privateKey, publicKey: key.publicKey },
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(key.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(key.publicKey),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: key.privateKeyPem, notAfter };
}
