// The node's TLS material as one value: certificate, key and the CA that verifies peers (server
// and client certificates alike). Loaded whole and checked whole (the key matches the
// certificate, the CA parses), so a reload either swaps all three or none.
import { readFileSync } from 'node:fs';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { normalizeFingerprint } from './client-cert.js';

/** A problem with the TLS material or the API's listener (api/server.ts), found at start-up. */
export class TlsConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TlsConfigError';
  }
}

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  /** Seconds since epoch when the certificate expires (exported as a metric). */
  notAfter: number;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new TlsConfigError(`cannot read TLS ${what} ${path}: ${code === 'ENOENT' ? 'no such file' : code}`);
  }
}

export function loadTlsMaterial(certPath: string, keyPath: string): TlsMaterial {
  const cert = readPem(certPath, 'certificate');
  const key = readPem(keyPath, 'key');
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch {
    throw new TlsConfigError(`TLS certificate ${certPath} is not a PEM certificate`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw new TlsConfigError(`TLS key ${keyPath} is not a PEM private key`);
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new TlsConfigError(`TLS key ${keyPath} does not match certificate ${certPath}`);
  }
  return { cert, key, notAfter: Math.floor(new Date(x509.validTo).getTime() / 1000) };
}

export interface TlsFiles {
  certPath: string;
  keyPath: string;
  /** null: the certificate is its own CA (the original's behaviour). */
  caPath: string | null;
}

export interface TlsBundle extends TlsMaterial {
  ca: Buffer;
  /** SHA-256 of our certificate, lowercase hex. */
  fingerprint: string;
  /** Unix seconds when the first CA certificate expires. */
  caNotAfter: number;
}

export function loadTlsBundle(files: TlsFiles): TlsBundle {
  const material = loadTlsMaterial(files.certPath, files.keyPath);
  let ca = material.cert;
  if (files.caPath !== null) {
    try {
      ca = readFileSync(files.caPath);
    } catch (err) {
      throw new TlsConfigError(`cannot read TLS CA ${files.caPath}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  let caCert: X509Certificate;
  try {
    caCert = new X509Certificate(ca);
  } catch {
    throw new TlsConfigError(`TLS CA ${files.caPath ?? files.certPath} is not a PEM certificate`);
  }
  const fingerprint = normalizeFingerprint(new X509Certificate(material.cert).fingerprint256);
  return { ...material, ca, fingerprint, caNotAfter: Math.floor(new Date(caCert.validTo).getTime() / 1000) };
}

/** True when the files still hold exactly the bundle's bytes (a cheap check before parsing anything). */
export function filesHold(files: TlsFiles, bundle: TlsBundle): boolean {
  try {
    const same = (path: string, bytes: Buffer): boolean => readFileSync(path).equals(bytes);
    return same(files.certPath, bundle.cert) && same(files.keyPath, bundle.key) && (files.caPath === null || same(files.caPath, bundle.ca));
  } catch {
    return false;
  }
}

export function sameBundle(a: TlsBundle, b: TlsBundle): boolean {
  return a.cert.equals(b.cert) && a.key.equals(b.key) && a.ca.equals(b.ca);
}
