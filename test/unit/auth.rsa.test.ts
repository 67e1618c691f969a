import { execFileSync } from 'node:child_process';
import { constants, createPrivateKey, createPublicKey, publicEncrypt, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { expect } from 'chai';

import {
  AuthError,
  generateNodeKeyPair,
  parsePeerPublicKey,
  unwrapSecret,
  wrapSecret,
  type NodeKeyPair,
} from '../../src/auth/index.js';
import { stripPkcs1Type2 } from '../../src/auth/rsa.js';

function expectBadKey(fn: () => unknown): void {
  expect(fn).to.throw(AuthError).with.property('reason', 'bad_key');
}

/** Encrypts a raw, already padded block: lets a test build any (in)valid PKCS#1 v1.5 block. */
function encryptRawBlock(pair: NodeKeyPair, block: Buffer): string {
  const key = createPublicKey({ key: Buffer.from(pair.publicKeyDerB64, 'base64'), format: 'der', type: 'spki' });
  return publicEncrypt({ key, padding: constants.RSA_NO_PADDING }, block).toString('base64');
}

/** 00 02 PS 00 M for a 2048-bit modulus, with the parts a test wants to break. */
function pkcs1Block(message: Buffer, options: { type?: number; paddingLength?: number; separator?: number } = {}): Buffer {
  const k = 256;
  const paddingLength = options.paddingLength ?? k - 3 - message.length;
  const padding = Buffer.alloc(paddingLength, 0x5a);
  const block = Buffer.concat([Buffer.from([0, options.type ?? 2]), padding, Buffer.from([options.separator ?? 0]), message]);
  return Buffer.concat([block, Buffer.alloc(k - block.length, 0x33)]);
}

describe('auth rsa', () => {
  let pair: NodeKeyPair;
  const secret = randomBytes(64);

  before(async () => {
    pair = await generateNodeKeyPair(2048);
  });

  describe('node key pair', () => {
    it('publishes the public key as base64 SPKI DER, as Ruby public_key.to_der does', () => {
      const der = Buffer.from(pair.publicKeyDerB64, 'base64');
      const key = createPublicKey({ key: der, format: 'der', type: 'spki' });
      expect(key.asymmetricKeyDetails?.modulusLength).to.equal(2048);
      expect(pair.publicKeyDerB64).to.not.match(/\s/);
    });

    it('refuses key sizes below 2048 bits', async () => {
      let caught: unknown;
      try {
        await generateNodeKeyPair(1024);
      } catch (err) {
        caught = err;
      }
      expect(caught).to.be.instanceOf(AuthError).with.property('reason', 'bad_key');
    });
  });

  describe('peer public keys from openssl', () => {
    let dir: string;
    let privateKey: KeyObject;
    let spkiB64: string;
    let pkcs1B64: string;

    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'tunmesh-rsa-'));
      const pem = join(dir, 'key.pem');
      execFileSync('openssl', ['genrsa', '-out', pem, '2048'], { stdio: 'ignore' });
      execFileSync('openssl', ['rsa', '-in', pem, '-pubout', '-outform', 'DER', '-out', join(dir, 'spki.der')], { stdio: 'ignore' });
      execFileSync('openssl', ['rsa', '-in', pem, '-RSAPublicKey_out', '-outform', 'DER', '-out', join(dir, 'pkcs1.der')], { stdio: 'ignore' });
      privateKey = createPrivateKey(readFileSync(pem));
      spkiB64 = readFileSync(join(dir, 'spki.der')).toString('base64');
      pkcs1B64 = readFileSync(join(dir, 'pkcs1.der')).toString('base64');
    });

    after(() => rmSync(dir, { recursive: true, force: true }));

    it('parses an SPKI (-pubout) DER public key', () => {
      expect(parsePeerPublicKey(spkiB64).asymmetricKeyDetails?.modulusLength).to.equal(2048);
    });

    it('parses a PKCS#1 RSAPublicKey (-RSAPublicKey_out) DER public key', () => {
      expect(parsePeerPublicKey(pkcs1B64).asymmetricKeyDetails?.modulusLength).to.equal(2048);
      expect(pkcs1B64).to.not.equal(spkiB64);
    });

    it('parses base64 with newlines every 60 characters, as Ruby encode64 writes it', () => {
      const wrapped = spkiB64.replace(/(.{60})/g, '$1\n') + '\n';
      expect(parsePeerPublicKey(wrapped).asymmetricKeyDetails?.modulusLength).to.equal(2048);
    });

    it('wraps to either form so that the openssl private key unwraps', () => {
      for (const b64 of [spkiB64, pkcs1B64]) {
        expect(unwrapSecret(privateKey, wrapSecret(b64, secret, 'oaep-sha256'), 'oaep-sha256')).to.deep.equal(secret);
        expect(unwrapSecret(privateKey, wrapSecret(b64, secret, 'pkcs1'), 'pkcs1')).to.deep.equal(secret);
      }
    });

    it('refuses a public key that is not DER at all', () => {
      expectBadKey(() => parsePeerPublicKey(Buffer.from('not a key').toString('base64')));
    });

    it('refuses an EC public key', () => {
      const ec = createPublicKey(
        execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout']),
      ).export({ type: 'spki', format: 'der' });
      expectBadKey(() => parsePeerPublicKey(ec.toString('base64')));
    });
  });

  describe('OAEP-SHA256 wrapping', () => {
    it('round trips a session secret', () => {
      const wrapped = wrapSecret(pair.publicKeyDerB64, secret, 'oaep-sha256');
      expect(unwrapSecret(pair.privateKey, wrapped, 'oaep-sha256')).to.deep.equal(secret);
    });

    it('uses SHA-256 OAEP, which a SHA-1 OAEP ciphertext does not pass', () => {
      const key = parsePeerPublicKey(pair.publicKeyDerB64);
      const sha1 = publicEncrypt({ key, padding: constants.RSA_PKCS1_OAEP_PADDING }, secret).toString('base64');
      expectBadKey(() => unwrapSecret(pair.privateKey, sha1, 'oaep-sha256'));
    });

    it('refuses a corrupted ciphertext', () => {
      const wrapped = Buffer.from(wrapSecret(pair.publicKeyDerB64, secret, 'oaep-sha256'), 'base64');
      wrapped[10] = (wrapped[10] ?? 0) ^ 0xff;
      expectBadKey(() => unwrapSecret(pair.privateKey, wrapped.toString('base64'), 'oaep-sha256'));
    });
  });

  describe('legacy PKCS#1 v1.5 wrapping (interop with original nodes)', () => {
    it("unwraps what Node's publicEncrypt with RSA_PKCS1_PADDING wraps, as Ruby's public_encrypt does", () => {
      const key = parsePeerPublicKey(pair.publicKeyDerB64);
      const wrapped = publicEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, secret).toString('base64');
      expect(unwrapSecret(pair.privateKey, wrapped, 'pkcs1')).to.deep.equal(secret);
    });

    it('round trips through wrapSecret', () => {
      const wrapped = wrapSecret(pair.publicKeyDerB64, secret, 'pkcs1');
      expect(unwrapSecret(pair.privateKey, wrapped, 'pkcs1')).to.deep.equal(secret);
    });

    it('unwraps a hand-built valid block, proving the block builder of the next tests', () => {
      expect(unwrapSecret(pair.privateKey, encryptRawBlock(pair, pkcs1Block(secret)), 'pkcs1')).to.deep.equal(secret);
    });

    it('refuses blocks with a wrong type, no separator, short padding or a wrong-length secret', () => {
      const corrupted = [
        pkcs1Block(secret, { type: 1 }),
        pkcs1Block(secret, { separator: 0x01 }),
        Buffer.concat([Buffer.from([0, 2]), Buffer.alloc(254, 0x5a)]),
        Buffer.concat([Buffer.from([0, 2]), Buffer.alloc(7, 0x5a), Buffer.from([0]), Buffer.alloc(246, 1)]),
        pkcs1Block(randomBytes(63)),
      ];
      for (const block of corrupted) {
        expectBadKey(() => unwrapSecret(pair.privateKey, encryptRawBlock(pair, block), 'pkcs1'));
      }
    });

    it('refuses a corrupted ciphertext with the same error as a bad block', () => {
      const wrapped = Buffer.from(wrapSecret(pair.publicKeyDerB64, secret, 'pkcs1'), 'base64');
      wrapped[10] = (wrapped[10] ?? 0) ^ 0xff;
      let message = '';
      try {
        unwrapSecret(pair.privateKey, wrapped.toString('base64'), 'pkcs1');
      } catch (err) {
        expect(err).to.be.instanceOf(AuthError).with.property('reason', 'bad_key');
        message = (err as Error).message;
      }
      expect(message).to.equal('bad_key: wrapped secret could not be unwrapped');
    });

    it('strips only a well-formed type 2 block', () => {
      expect(stripPkcs1Type2(pkcs1Block(secret), 64)).to.deep.equal(secret);
      expect(stripPkcs1Type2(Buffer.from([0, 2]), 64)).to.equal(undefined);
      const leadingNonZero = pkcs1Block(secret);
      leadingNonZero[0] = 1;
      expect(stripPkcs1Type2(leadingNonZero, 64)).to.equal(undefined);
    });
  });
});
