/**
 * The node's RSA key pair and the wrapping of session secrets.
 *
 * A node posts its public key to a peer's init_session; the peer answers with 64 fresh secret
 * bytes encrypted to that key. Public keys travel as base64 of DER. Ruby's
 * `OpenSSL::PKey::RSA#public_key.to_der` writes a public key as X.509 SubjectPublicKeyInfo (SPKI),
 * so that is what we send; we accept SPKI and bare PKCS#1 `RSAPublicKey` DER from peers, as
 * `OpenSSL::PKey::RSA.new` does.
 *
 * Two wrapping schemes:
 *   - 'oaep-sha256': RSA-OAEP with SHA-256 (and MGF1-SHA-256). Our choice between our own nodes.
 *   - 'pkcs1': RSA PKCS#1 v1.5, Ruby OpenSSL's default `public_encrypt` padding, which the
 *     original uses. Only for interop with original nodes; see `stripPkcs1Type2` for why.
 */
import { constants, createPublicKey, generateKeyPair, privateDecrypt, publicEncrypt, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

import { AuthError } from './errors.js';
import { SESSION_SECRET_BYTES } from './keys.js';

export type WrapScheme = 'oaep-sha256' | 'pkcs1';

/** The original's config minimum for `pub_key_size`; smaller peer keys are refused. */
export const MIN_RSA_BITS = 2048;
/** Refuse absurd peer keys rather than spend time on them. */
const MAX_RSA_BITS = 16384;

/** PKCS#1 v1.5 type 2: 0x00 0x02, at least 8 non-zero padding bytes, 0x00, message. */
const PKCS1_MIN_PADDING = 8;
const PKCS1_FIRST_MESSAGE_INDEX = 2 + PKCS1_MIN_PADDING + 1;

export interface NodeKeyPair {
  /** base64 of the SPKI DER public key, the original's `public_key` field. */
  publicKeyDerB64: string;
  privateKey: KeyObject;
}

const generateKeyPairAsync = promisify(generateKeyPair);

export async function generateNodeKeyPair(bits: number): Promise<NodeKeyPair> {
  checkModulusBits(bits, 'node key size');
  const { publicKey, privateKey } = await generateKeyPairAsync('rsa', {
    modulusLength: bits,
    publicExponent: 0x10001,
  });
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return { publicKeyDerB64: der.toString('base64'), privateKey };
}

/**
 * Parsed peer keys by their base64 text: a node keeps its key pair for its life, and parsing one
 * cost about a millisecond per init_session (twice: checked, then used). Bounded: the oldest go.
 */
const parsedKeys = new Map<string, KeyObject>();
const PARSED_KEYS_MAX = 4096;

/** Parses a peer's base64 DER public key (SPKI or PKCS#1); throws `AuthError('bad_key')`. */
export function parsePeerPublicKey(publicKeyB64: string): KeyObject {
  const cached = parsedKeys.get(publicKeyB64);
  if (cached !== undefined) return cached;
  const key = parseUncached(publicKeyB64);
  if (parsedKeys.size >= PARSED_KEYS_MAX) parsedKeys.delete(parsedKeys.keys().next().value as string);
  parsedKeys.set(publicKeyB64, key);
  return key;
}

function parseUncached(publicKeyB64: string): KeyObject {
  const der = Buffer.from(publicKeyB64, 'base64'); // lenient like Ruby's decode64: newlines allowed
  const key = tryPublicKey(der, 'spki') ?? tryPublicKey(der, 'pkcs1');
  if (key === undefined) {
    throw new AuthError('bad_key', 'public key is neither SPKI nor PKCS#1 RSA DER');
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new AuthError('bad_key', `public key is ${key.asymmetricKeyType ?? 'unknown'}, not rsa`);
  }
  checkModulusBits(key.asymmetricKeyDetails?.modulusLength ?? 0, 'peer public key size');
  return key;
}

/** Encrypts a secret to a peer's public key; returns base64. */
export function wrapSecret(peerPublicKeyB64: string, secret: Buffer, scheme: WrapScheme): string {
  const key = parsePeerPublicKey(peerPublicKeyB64);
  try {
    const wrapped = scheme === 'oaep-sha256'
      ? publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, secret)
      : publicEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, secret);
    return wrapped.toString('base64');
  } catch (err) {
    throw new AuthError('bad_key', `secret of ${secret.length} bytes could not be wrapped`, { cause: err });
  }
}

/**
 * Decrypts a wrapped secret and checks it is `expectedLength` bytes (a session secret by default).
 * Every failure is the same `AuthError('bad_key')` with the same message, so callers cannot tell
 * padding failures from other ones. Callers must verify the response token before unwrapping.
 */
export function unwrapSecret(
  privateKey: KeyObject,
  wrappedB64: string,
  scheme: WrapScheme,
  expectedLength: number = SESSION_SECRET_BYTES,
): Buffer {
  const wrapped = Buffer.from(wrappedB64, 'base64');
  let secret: Buffer | undefined;
  try {
    secret = scheme === 'oaep-sha256'
      ? unwrapOaep(privateKey, wrapped, expectedLength)
      : unwrapPkcs1(privateKey, wrapped, expectedLength);
  } catch {
    secret = undefined;
  }
  if (secret === undefined) {
    throw new AuthError('bad_key', 'wrapped secret could not be unwrapped');
  }
  return secret;
}

function unwrapOaep(privateKey: KeyObject, wrapped: Buffer, expectedLength: number): Buffer | undefined {
  const secret = privateDecrypt(
    { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
    wrapped,
  );
  return secret.length === expectedLength ? secret : undefined;
}

/**
 * Legacy PKCS#1 v1.5 unwrapping, for original nodes only.
 *
 * Node >= 20.11.1 refuses `privateDecrypt` with RSA_PKCS1_PADDING (CVE-2023-46809, the Marvin
 * attack): a decryptor that reveals, even through timing, whether the padding was valid is a
 * Bleichenbacher oracle that lets an attacker decrypt or sign with the key in ~10^4–10^6 queries.
 * We decrypt the raw block (RSA_NO_PADDING) and check the padding ourselves without branching on
 * secret bytes, with one final check, and a single error for every failure.
 *
 * Why it is acceptable here: we only unwrap secrets from init_session *responses* to requests we
 * made, after verifying the response's token (cluster or session HMAC). An attacker who cannot
 * sign responses cannot feed us chosen ciphertexts, so there is no oracle to query; and the key
 * pair lives for one process. Between tunmesh nodes use 'oaep-sha256'.
 */
function unwrapPkcs1(privateKey: KeyObject, wrapped: Buffer, expectedLength: number): Buffer | undefined {
  const block = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, wrapped);
  return stripPkcs1Type2(block, expectedLength);
}

/**
 * Constant-time style check of `00 02 PS(>= 8 non-zero) 00 M` with |M| == expectedLength: the loop
 * touches every byte whatever it finds and only accumulates flags; the one decision is at the end.
 */
export function stripPkcs1Type2(block: Buffer, expectedLength: number): Buffer | undefined {
  // The block length is the modulus size, which is public: an early return on it leaks nothing.
  if (block.length < PKCS1_FIRST_MESSAGE_INDEX + expectedLength) return undefined;
  let good = ctIsZero(block[0]) & ctIsZero(block[1] ^ 2);
  let searching = 1;
  let separator = 0;
  for (let i = 2; i < block.length; i++) {
    const isZero = ctIsZero(block[i]);
    const hit = isZero & searching;
    separator |= -hit & i; // takes i on the first zero only: separator is 0 until then
    searching &= ~isZero & 1;
  }
  good &= ~searching & 1;
  good &= ctAtLeast(separator + 1, PKCS1_FIRST_MESSAGE_INDEX);
  good &= ctIsZero(block.length - separator - 1 - expectedLength);
  if (good !== 1) return undefined;
  return Buffer.from(block.subarray(separator + 1));
}

/** 1 when x (|x| < 2^31) is 0, else 0, without a branch. */
function ctIsZero(x: number): number {
  return ((x | -x) >>> 31) ^ 1;
}

/** 1 when a >= b (both in [0, 2^31)), else 0, without a branch. */
function ctAtLeast(a: number, b: number): number {
  return ((a - b) >>> 31) ^ 1;
}

function tryPublicKey(der: Buffer, type: 'spki' | 'pkcs1'): KeyObject | undefined {
  try {
    return createPublicKey({ key: der, format: 'der', type });
  } catch {
    return undefined;
  }
}

function checkModulusBits(bits: number, what: string): void {
  if (!Number.isInteger(bits) || bits < MIN_RSA_BITS || bits > MAX_RSA_BITS) {
    throw new AuthError('bad_key', `${what} ${bits} bits is outside ${MIN_RSA_BITS}..${MAX_RSA_BITS}`);
  }
}
