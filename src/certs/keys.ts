// Key pairs: made with WebCrypto for a chosen algorithm, or read from a PEM file (a CA key made
// here or by openssl). Either way we end with a signing CryptoKey, the WebCrypto algorithm to
// sign with, and PKCS#8 PEM for the file.
import { KeyObject, createPrivateKey, type webcrypto } from 'node:crypto';
import { CertsError } from './errors.js';
import { subtle } from './x509.js';
import type { KeyAlgorithm } from './params.js';

export interface SigningKey {
  privateKey: webcrypto.CryptoKey;
  /** What certificates signed with this key use (hash included). */
  signingAlgorithm: webcrypto.RsaHashedImportParams | webcrypto.EcdsaParams;
}

export interface GeneratedKey extends SigningKey {
  publicKey: webcrypto.CryptoKey;
  /** PKCS#8 PEM, for a 0600 file. */
  privateKeyPem: string;
}

const RSA_EXPONENT = new Uint8Array([1, 0, 1]);
/** Curves we sign with, by node's name, with the hash that matches their strength. */
const CURVES: Record<string, { webName: string; hash: string }> = {
  prime256v1: { webName: 'P-256', hash: 'SHA-256' },
  secp384r1: { webName: 'P-384', hash: 'SHA-384' },
};
const MIN_RSA_BITS = 3072;

function generationParams(algorithm: KeyAlgorithm): webcrypto.RsaHashedKeyGenParams | webcrypto.EcKeyGenParams {
  switch (algorithm) {
    case 'ecdsa-p256':
      return { name: 'ECDSA', namedCurve: 'P-256' };
    case 'rsa-3072':
    case 'rsa-4096':
      return { name: 'RSASSA-PKCS1-v1_5', modulusLength: algorithm === 'rsa-3072' ? 3072 : 4096, publicExponent: RSA_EXPONENT, hash: 'SHA-256' };
  }
}

export async function generateKey(algorithm: KeyAlgorithm): Promise<GeneratedKey> {
  const params = generationParams(algorithm);
  const pair = (await subtle.generateKey(params, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const privateKeyPem = KeyObject.from(pair.privateKey).export({ type: 'pkcs8', format: 'pem' }).toString();
  const signingAlgorithm = params.name === 'ECDSA' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: params.name, hash: 'SHA-256' };
  return { privateKey: pair.privateKey, publicKey: pair.publicKey, privateKeyPem, signingAlgorithm };
}

/** Reads a PEM private key (PKCS#8, SEC1 or PKCS#1) for signing; refuses weak or unknown keys. */
export async function importSigningKey(pem: string, source: string): Promise<SigningKey> {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw new CertsError(`${source}: not a PEM private key (an encrypted key must be decrypted first)`);
  }
  const der = key.export({ type: 'pkcs8', format: 'der' });
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    const curve = CURVES[details.namedCurve ?? ''];
    if (!curve) throw new CertsError(`${source}: EC curve ${details.namedCurve ?? 'unknown'} is not accepted (use P-256 or P-384)`);
    const privateKey = await subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: curve.webName }, false, ['sign']);
    return { privateKey, signingAlgorithm: { name: 'ECDSA', hash: curve.hash } };
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) throw new CertsError(`${source}: RSA key of ${bits} bits is too weak (at least ${MIN_RSA_BITS})`);
    const algorithm = { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
    const privateKey = await subtle.importKey('pkcs8', der, algorithm, false, ['sign']);
    return { privateKey, signingAlgorithm: algorithm };
  }
  throw new CertsError(`${source}: ${key.asymmetricKeyType ?? 'unknown'} keys are not accepted (use ECDSA or RSA)`);
}
