// Throwaway TLS material and cluster secret for labs (demo, tests, bench): one self-signed
// certificate shared by every node, which is then also the CA each node verifies peers with
// (the original's behaviour when ca_file_path is unset).
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { run } from './netns.js';

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
  const certPath = join(dir, 'cert.pem');
  const keyPath = join(dir, 'key.pem');
  const san = ipSans.length > 0 ? ['-addext', `subjectAltName=${ipSans.map((ip) => `IP:${ip}`).join(',')}`] : [];
  await run(
    'openssl',
    ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=tunmesh-lab', '-days', '2', ...san, '-keyout', keyPath, '-out', certPath],
    { timeoutMs: 30_000 },
  );
  return { certPath, keyPath, secret: randomBytes(32).toString('base64url') };
}
