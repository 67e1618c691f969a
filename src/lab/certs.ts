// Throwaway TLS material and cluster secret for labs (demo, tests, bench): one RSA certificate
// shared by every node, made with src/certs as `tunmesh certs` makes them (no openssl). Its
// file holds the chain, leaf then CA, so that a node without ca_file_path, which verifies peers
// against its own certificate file as the original does, trusts every peer of the lab.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeLabPki } from './pki.js';

/** The DNS name of the lab's leaf certificate when it has no IP SANs. */
export const LAB_CERT_NAME = 'tunmesh-lab';

export interface LabCredentials {
  certPath: string;
  keyPath: string;
  secret: string;
}

/**
 * `ipSans`: the nodes' underlay addresses (IPv4 and IPv6), as subjectAltName IP entries, so
 * peers may check the hostname (tun_mesh.control_api.ssl.verify_hostname) against bare-IP URLs.
 */
export async function makeLabCredentials(dir: string, ipSans: readonly string[] = []): Promise<LabCredentials> {
  const pki = await makeLabPki(dir, { name: 'tunmesh lab CA' });
  // An RSA leaf, as the lab always had: the TLS suite tests check the ECDHE-RSA list against it.
  const leaf = await pki.issue('lab', [...ipSans], { algorithm: 'rsa-3072', ...(ipSans.length === 0 ? { dns: [LAB_CERT_NAME] } : {}) });
  const certPath = join(dir, 'cert.pem');
  writeFileSync(certPath, readFileSync(leaf.certPath, 'utf8') + readFileSync(pki.caPath, 'utf8'), { mode: 0o644 });
  return { certPath, keyPath: leaf.keyPath, secret: randomBytes(32).toString('base64url') };
}
