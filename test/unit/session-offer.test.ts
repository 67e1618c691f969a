// Both sessions opened by a first registration (mesh/session-offer.ts), between two real session
// managers with real RSA keys: what the asker signs, what the answerer stores and wraps, what
// the asker unwraps, and the two registrations that cross.
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { ClusterKeys, generateNodeKeyPair } from '../../src/auth/index.js';
import { signToken, verifyToken } from '../../src/auth/tokens.js';
import { SessionManager, type NodeKeyPair } from '../../src/mesh/session-manager.js';
import { capabilityClaims, localCapabilities, capabilitiesOf } from '../../src/mesh/capabilities.js';
import { askOf, offerOf, withOffer, type SessionOffer } from '../../src/mesh/session-offer.js';
import type { MeshTiming } from '../../src/mesh/timing.js';
import { createLogger } from '../../src/log/logger.js';

const TIMING: MeshTiming = {
  requestTimeout: 1, groomInterval: 5, startupGrace: 0, bootstrapRetryInterval: 15,
  local: { reregistrationInterval: 5, staleThreshold: 30 }, mesh: { reregistrationInterval: 30, staleThreshold: 120 },
  sessionMaxAge: 3600, earlyValidityWindow: 5, validityWindow: 30, sessionOverlap: 30, maxClockSkew: 5, keepaliveRate: 1,
};
const quiet = createLogger('error', 'json', new Writable({ write: (_c, _e, cb) => cb() }));
const CLAIMS = capabilityClaims(localCapabilities(true));
const CAPS = capabilitiesOf(CLAIMS);

let pairs: NodeKeyPair[];

function node(id: string, keys: NodeKeyPair): SessionManager {
  const events = { rotated: () => undefined, failed: () => undefined, changed: () => undefined };
  return new SessionManager(id, CLAIMS, new ClusterKeys('c'.repeat(32)), keys, TIMING, false, () => undefined, events, quiet, () => Date.now() / 1000);
}

/** A token `from` signs to `to` with its outbound session is verified by `to` with its inbound keys. */
async function talks(from: SessionManager, to: SessionManager): Promise<boolean> {
  const key = from.outbound.get(to.selfId);
  if (!key) return false;
  const token = await signToken({ key, issuer: from.selfId, audience: to.selfId, body: 'x', earlyValidity: 5, validity: 30 });
  try {
    await verifyToken(token, { audience: to.selfId, issuer: from.selfId, body: Buffer.from('x'), keys: to.inboundKeys(from.selfId), maxClockSkew: 5 });
    return true;
  } catch {
    return false;
  }
}

/** The offer as it travels: inside the answer token's claims, read back by the asker. */
function overTheWire(offer: SessionOffer | undefined): SessionOffer | undefined {
  return offer && offerOf(JSON.parse(JSON.stringify(withOffer(CLAIMS, offer))) as Record<string, unknown>);
}

describe('sessions opened by the first registration', function () {
  this.timeout(20_000);

  before(async () => {
    pairs = await Promise.all([generateNodeKeyPair(2048), generateNodeKeyPair(2048)]);
  });

  it('gives both directions a working key in one answer, and no init_session is needed', async () => {
    const asker = node(randomUUID(), pairs[0]!);
    const answerer = node(randomUUID(), pairs[1]!);
    const ask = askOf(asker.registrationClaims(answerer.selfId));
    expect(ask, 'a first registration asks with our public key').to.equal(pairs[0]!.publicKeyDerB64);
    const offer = overTheWire(answerer.offer(asker.selfId, ask!, CAPS));
    expect(offer).to.not.equal(undefined);
    expect(asker.acceptOffer(answerer.selfId, offer!)).to.equal(true);
    expect(await talks(asker, answerer), 'asker -> answerer').to.equal(true);
    expect(await talks(answerer, asker), 'answerer -> asker').to.equal(true);
    // With a session in place the next cluster registration does not ask again.
    expect(askOf(asker.registrationClaims(answerer.selfId))).to.equal(undefined);
  });

  it('settles two crossing first registrations on one pair: the lower id\'s', async () => {
    const [low, high] = [randomUUID(), randomUUID()].sort();
    const a = node(low!, pairs[0]!);
    const b = node(high!, pairs[1]!);
    // Each answers the other's registration before its own answer arrives.
    const fromA = overTheWire(a.offer(b.selfId, pairs[1]!.publicKeyDerB64, CAPS))!;
    const fromB = overTheWire(b.offer(a.selfId, pairs[0]!.publicKeyDerB64, CAPS))!;
    expect(a.acceptOffer(b.selfId, fromB), 'the lower id keeps its own').to.equal(true);
    expect(b.acceptOffer(a.selfId, fromA)).to.equal(true);
    expect(a.outbound.get(b.selfId)?.id).to.equal(fromA.answerer);
    expect(b.outbound.get(a.selfId)?.id).to.equal(fromA.asker);
    expect(await talks(a, b)).to.equal(true);
    expect(await talks(b, a)).to.equal(true);
  });

  it('offers no second pair to a registration that crossed an answer already taken', async () => {
    const a = node(randomUUID(), pairs[0]!);
    const b = node(randomUUID(), pairs[1]!);
    // b's registration reached a first and b took a's pair; a's own registration, sent before,
    // reaches b now: b must not draw a pair that a (which keeps its own) would never take.
    expect(b.acceptOffer(a.selfId, overTheWire(a.offer(b.selfId, pairs[1]!.publicKeyDerB64, CAPS))!)).to.equal(true);
    expect(b.offer(a.selfId, pairs[0]!.publicKeyDerB64, CAPS)).to.equal(undefined);
    expect(await talks(a, b)).to.equal(true);
    expect(await talks(b, a)).to.equal(true);
  });

  it('offers nothing to an original node or for a key that is not one, and keeps the state as it was', () => {
    const answerer = node(randomUUID(), pairs[1]!);
    const peer = randomUUID();
    expect(answerer.offer(peer, pairs[0]!.publicKeyDerB64, null), 'an original (no claim)').to.equal(undefined);
    expect(answerer.offer(peer, Buffer.from('not a key').toString('base64'), CAPS), 'a bad key').to.equal(undefined);
    expect(answerer.outbound.get(peer)).to.equal(undefined);
    expect(answerer.inbound.has(peer)).to.equal(false);
  });

  it('refuses an offer that is not for our key, and one whose key id another peer holds', () => {
    const asker = node(randomUUID(), pairs[0]!);
    const answerer = node(randomUUID(), pairs[1]!);
    const forSomeoneElse = answerer.offer(asker.selfId, pairs[1]!.publicKeyDerB64, CAPS)!;
    expect(asker.acceptOffer(answerer.selfId, forSomeoneElse)).to.equal(false);
    expect(asker.outbound.get(answerer.selfId)).to.equal(undefined);
    // A second answerer whose offer reuses the first one's key id for its own traffic.
    const first = answerer.offer(asker.selfId, pairs[0]!.publicKeyDerB64, CAPS)!;
    expect(asker.acceptOffer(answerer.selfId, first)).to.equal(true);
    const other = node(randomUUID(), pairs[1]!);
    const clash = { ...other.offer(asker.selfId, pairs[0]!.publicKeyDerB64, CAPS)!, answerer: first.answerer };
    expect(asker.acceptOffer(other.selfId, clash)).to.equal(false);
    expect(asker.inbound.lookup(first.answerer)?.peerId).to.equal(answerer.selfId);
  });

  it('reads only well-formed offers and asks from the claims', () => {
    const id = randomUUID();
    const good = { asker: id, answerer: randomUUID(), secret: 'AAAA' };
    expect(offerOf(withOffer(CLAIMS, good))).to.deep.equal(good);
    for (const bad of [{ ...good, asker: 'x' }, { ...good, answerer: id }, { ...good, secret: '' }, { ...good, secret: 'A'.repeat(5000) }]) {
      expect(offerOf(withOffer(CLAIMS, bad)), JSON.stringify(bad).slice(0, 80)).to.equal(undefined);
    }
    expect(offerOf({ tunmesh: { sessions: 'nope' } })).to.equal(undefined);
    expect(offerOf({})).to.equal(undefined);
    expect(askOf({ tunmesh: { session_key: 7 } })).to.equal(undefined);
    expect(askOf({ tunmesh: { session_key: 'A'.repeat(5000) } })).to.equal(undefined);
  });
});
