// A lab CA that gives each lab node its own certificate (SAN = its underlay address), made with
// src/certs like `tunmesh certs` does, so no openssl is needed. Tests that need other material
// (a second CA, an expired certificate) make it here too.
import { join } from 'node:path';
import { createCa } from '../certs/ca.js';
import { issueNodeCertificate, loadCa, type LoadedCa } from '../certs/issue.js';
import { parseSubjectAltNames, type KeyAlgorithm } from '../certs/params.js';
import { writeOutputs } from '../certs/pem-files.js';

export interface LabCertFiles {
  certPath: string;
  keyPath: string;
}

export interface IssueOptions {
  /** Default 2 (a lab lives minutes). */
  days?: number;
  /** Start of validity (default now): a past start with few days makes an expired certificate. */
  validFrom?: Date;
  dns?: string[];
  /** Firewall groups (URI SANs urn:tunmesh:group:NAME), as `tunmesh certs node issue --group`. */
  groups?: string[];
  algorithm?: KeyAlgorithm;
}

export interface LabPki {
  dir: string;
  caPath: string;
  caKeyPath: string;
  /** Issues `dir/<name>.pem` and `dir/<name>-key.pem` (0600) with `ips` as IP SANs. */
  issue(name: string, ips: string[], opts?: IssueOptions): Promise<LabCertFiles>;
}

export async function makeLabPki(dir: string, opts: { name?: string; algorithm?: KeyAlgorithm } = {}): Promise<LabPki> {
  const pem = await createCa({ commonName: opts.name ?? 'tunmesh lab CA', algorithm: opts.algorithm ?? 'ecdsa-p256', days: 30 });
  const caPath = join(dir, 'ca.pem');
  const caKeyPath = join(dir, 'ca-key.pem');
  writeOutputs(dir, [{ path: caPath, content: pem.certPem, secret: false }, { path: caKeyPath, content: pem.keyPem, secret: true }], false);
  const ca: LoadedCa = await loadCa(pem.certPem, pem.keyPem, caPath, caKeyPath);
  return {
    dir,
    caPath,
    caKeyPath,
    async issue(name, ips, o = {}) {
      const issued = await issueNodeCertificate(ca, {
        name,
        sans: parseSubjectAltNames(ips, o.dns ?? [], o.groups ?? []),
        algorithm: o.algorithm ?? 'ecdsa-p256',
        days: o.days ?? 2,
        ...(o.validFrom ? { validFrom: o.validFrom } : {}),
      });
      const files = { certPath: join(dir, `${name}.pem`), keyPath: join(dir, `${name}-key.pem`) };
      writeOutputs(dir, [{ path: files.certPath, content: issued.certPem, secret: false }, { path: files.keyPath, content: issued.keyPem, secret: true }], false);
      return files;
    },
  };
}
