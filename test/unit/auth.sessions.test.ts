import { expect } from 'chai';

import {
  AuthError,
  InboundSessions,
  keyLookup,
  OutboundSessions,
  signToken,
  verifyToken,
  type AuthKey,
  type AuthErrorReason,
} from '../../src/auth/index.js';

const A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const C = 'cccccccc-cccc-4ccc-8ccc-cccccccccccc';
const T0 = 1_700_000_000;
const TIMING = { maxAge: 3600, validity: 30 };
const BODY = '{"x":1}';

/** A token from A to B signed with the key B issued to A, as A's client would send it. */
function tokenFromA(key: AuthKey, now: number): Promise<string> {
  return signToken({ key, issuer: A, audience: B, body: BODY, now, earlyValidity: 5, validity: 30 });
}

/** B's server checking a token with its inbound sessions at time `now`. */
async function bAccepts(inbound: InboundSessions, token: string, now: number): Promise<AuthErrorReason | 'ok'> {
  try {
    await verifyToken(token, {
      keys: keyLookup({ inbound, now: () => now }),
      audience: B,
      body: BODY,
      now,
      maxClockSkew: 0,
    });
    return 'ok';
  } catch (err) {
    expect(err).to.be.instanceOf(AuthError);
    return (err as AuthError).reason;
  }
}

describe('auth sessions', () => {
  describe('inbound (keys we issue)', () => {
    it('issues a UUID and 64 random bytes per call', () => {
      const inbound = new InboundSessions({ ...TIMING, overlap: 40 });
      const first = inbound.issue(A, T0);
      const second = inbound.issue(A, T0);
      expect(first.id).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(first.secret).to.have.length(64);
      expect(first.id).to.not.equal(second.id);
      expect(first.secret.equals(second.secret)).to.equal(false);
    });

    it('a token signed with the issued key verifies, bound to the peer it was issued to', async () => {
      const inbound = new InboundSessions({ ...TIMING, overlap: 40 });
      const outbound = new OutboundSessions(TIMING);
      const key = outbound.set(B, inbound.issue(A, T0), T0);
      expect(await bAccepts(inbound, await tokenFromA(key, T0 + 1), T0 + 1)).to.equal('ok');
      expect(inbound.lookup(key.id, T0 + 1)?.peerId).to.equal(A);
    });

    it('a session key issued to A cannot speak for C', async () => {
      const inbound = new InboundSessions({ ...TIMING, overlap: 40 });
      const key = new OutboundSessions(TIMING).set(B, inbound.issue(A, T0), T0);
      const forged = await signToken({ key, issuer: C, audience: B, body: BODY, now: T0, earlyValidity: 5, validity: 30 });
      expect(await bAccepts(inbound, forged, T0)).to.equal('wrong_issuer');
    });

    it('after rotation the previous key still verifies within the overlap and not after', async () => {
      const inbound = new InboundSessions({ ...TIMING, overlap: 40 });
      const oldKey = new OutboundSessions(TIMING).set(B, inbound.issue(A, T0), T0);
      const rotatedAt = T0 + 3570;
      const newKey = new OutboundSessions(TIMING).set(B, inbound.issue(A, rotatedAt), rotatedAt);

      expect(await bAccepts(inbound, await tokenFromA(oldKey, rotatedAt + 39), rotatedAt + 39)).to.equal('ok');
      expect(await bAccepts(inbound, await tokenFromA(oldKey, rotatedAt + 40), rotatedAt + 40)).to.equal('unknown_key');
      expect(await bAccepts(inbound, await tokenFromA(newKey, rotatedAt + 40), rotatedAt + 40)).to.equal('ok');
    });

    it('with no overlap a rotation replaces the key at once, like the original', async () => {
      const inbound = new InboundSessions({ ...TIMING, overlap: 0 });
      const oldKey = new OutboundSessions(TIMING).set(B, inbound.issue(A, T0), T0);
      inbound.issue(A, T0 + 10);
      expect(await bAccepts(inbound, await tokenFromA(oldKey, T0 + 10), T0 + 10)).to.equal('unknown_key');
    });

    it('keeps only the current and the previous key: a second rotation drops the first key', () => {
      const inbound = new InboundSessions({ ...TIMING, overlap: 40 });
      const first = inbound.issue(A, T0);
      const second = inbound.issue(A, T0 + 1);
      const third = inbound.issue(A, T0 + 2);
      expect(inbound.lookup(first.id, T0 + 2)).to.equal(undefined);
      expect(inbound.lookup(second.id, T0 + 2)?.peerId).to.equal(A);
      expect(inbound.lookup(third.id, T0 + 2)?.peerId).to.equal(A);
    });

    it('a key expires after maxAge + validity (3630 s) without rotation', () => {
      const inbound = new InboundSessions({ ...TIMING, overlap: 40 });
      const issued = inbound.issue(A, T0);
      expect(inbound.lookup(issued.id, T0 + 3630)).to.not.equal(undefined);
      expect(inbound.lookup(issued.id, T0 + 3631)).to.equal(undefined);
      expect(inbound.has(A, T0 + 3631)).to.equal(false);
    });

    it('expire frees dead keys and keeps live ones', () => {
      const inbound = new InboundSessions({ ...TIMING, overlap: 40 });
      const a = inbound.issue(A, T0);
      const c = inbound.issue(C, T0 + 3000);
      inbound.expire(T0 + 3631);
      expect(inbound.has(A, T0)).to.equal(false); // gone even at a time it would have been live
      expect(inbound.lookup(a.id, T0)).to.equal(undefined);
      expect(inbound.lookup(c.id, T0 + 3631)?.peerId).to.equal(C);
    });

    it('forget drops current and previous keys of a peer', () => {
      const inbound = new InboundSessions({ ...TIMING, overlap: 40 });
      const first = inbound.issue(A, T0);
      const second = inbound.issue(A, T0 + 1);
      inbound.forget(A);
      expect(inbound.lookup(first.id, T0 + 1)).to.equal(undefined);
      expect(inbound.lookup(second.id, T0 + 1)).to.equal(undefined);
    });
  });

  describe('outbound (keys peers issued to us)', () => {
    it('needs rotation from maxAge - validity (3570 s) on, not before', () => {
      const outbound = new OutboundSessions(TIMING);
      outbound.set(B, { id: 'dddddddd-dddd-4ddd-8ddd-dddddddddddd', secret: Buffer.alloc(64, 1) }, T0);
      expect(outbound.needsRotation(B, T0 + 3569)).to.equal(false);
      expect(outbound.needsRotation(B, T0 + 3570)).to.equal(true);
      expect(outbound.ageSeconds(B, T0 + 3570)).to.equal(3570);
    });

    it('a peer without a session needs an init, not a rotation', () => {
      const outbound = new OutboundSessions(TIMING);
      expect(outbound.needsRotation(B, T0)).to.equal(false);
      expect(outbound.get(B, T0)).to.equal(undefined);
      expect(outbound.ageSeconds(B, T0)).to.equal(undefined);
    });

    it('stops offering a key the peer has surely expired', () => {
      const outbound = new OutboundSessions(TIMING);
      const key = outbound.set(B, { id: 'dddddddd-dddd-4ddd-8ddd-dddddddddddd', secret: Buffer.alloc(64, 1) }, T0);
      expect(outbound.get(B, T0 + 3630)).to.equal(key);
      expect(outbound.get(B, T0 + 3631)).to.equal(undefined);
    });

    it('drop forgets the session so the next send re-initialises', () => {
      const outbound = new OutboundSessions(TIMING);
      outbound.set(B, { id: 'dddddddd-dddd-4ddd-8ddd-dddddddddddd', secret: Buffer.alloc(64, 1) }, T0);
      outbound.drop(B);
      expect(outbound.get(B, T0)).to.equal(undefined);
    });
  });
});
