// The session manager against a scripted peer API (the peer side is not under test here; the
// real exchange is covered by the mesh integration tests).
import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { ClusterKeys, generateNodeKeyPair, wrapSecret } from '../../src/auth/index.js';
import { SessionManager, OAEP, type NodeKeyPair } from '../../src/mesh/session-manager.js';
import type { PeerApi } from '../../src/mesh/peer-api.js';
import type { MeshTiming } from '../../src/mesh/timing.js';
import type { InitSessionResponse } from '../../src/mesh/types.js';
import { createLogger } from '../../src/log/logger.js';

const TIMING: MeshTiming = {
  requestTimeout: 1, groomInterval: 5, startupGrace: 0, bootstrapRetryInterval: 15,
  local: { reregistrationInterval: 5, staleThreshold: 30 }, mesh: { reregistrationInterval: 30, staleThreshold: 120 },
  sessionMaxAge: 3600, earlyValidityWindow: 5, validityWindow: 30, sessionOverlap: 30, maxClockSkew: 5,
};
const quiet = createLogger('error', 'json', new Writable({ write: (_c, _e, cb) => cb() }));
const peer = { id: randomUUID(), url: 'https://198.18.0.11:4567' };

let keys: NodeKeyPair;

/** A peer API whose init_session answers when the test says so. */
function scriptedApi(): { api: PeerApi; answer: () => void } {
  let release: () => void = () => undefined;
  const api: PeerApi = {
    nodeInfo: () => Promise.reject(new Error('not used')),
    register: () => Promise.reject(new Error('not used')),
    initSession: (_p, request) =>
      new Promise<InitSessionResponse>((resolve) => {
        release = () => resolve({ id: randomUUID(), secret: wrapSecret(request.public_key, randomBytes(64), OAEP), wrap: OAEP });
      }),
  };
  return { api, answer: () => release() };
}

function manager(api: PeerApi): SessionManager {
  const events = { rotated: () => undefined, failed: () => undefined, changed: () => undefined };
  const sm = new SessionManager(randomUUID(), new ClusterKeys('c'.repeat(32)), keys, TIMING, false, events, quiet, () => Date.now() / 1000);
  sm.attach(api);
  return sm;
}

describe('session manager', () => {
  before(async () => {
    keys = await generateNodeKeyPair(2048);
  });

  it('drops only the session a peer refused, not the one that replaced it', () => {
    const sm = manager(scriptedApi().api);
    sm.outbound.set(peer.id, { id: 'current', secret: randomBytes(64) });
    sm.outboundRejected(peer.id, 'an-older-one'); // a late report from another worker
    expect(sm.outbound.get(peer.id)?.id).to.equal('current');
    sm.outboundRejected(peer.id, 'current');
    expect(sm.outbound.get(peer.id)).to.equal(undefined);
  });

  it('stores nothing when the peer is forgotten while its session opens', async () => {
    const { api, answer } = scriptedApi();
    const sm = manager(api);
    const opening = sm.open(peer);
    await new Promise((r) => setImmediate(r));
    sm.forget(peer.id); // groomed meanwhile
    answer();
    const outcome = await opening.then(() => 'opened', (err: Error) => err.message);
    expect(outcome).to.match(/left while its session opened/);
    expect(sm.outbound.get(peer.id)).to.equal(undefined);
    expect(sm.ageSeconds(peer.id)).to.equal(undefined);
  });

  it('opens a session when the answer comes back normally', async () => {
    const { api, answer } = scriptedApi();
    const sm = manager(api);
    const opening = sm.open(peer);
    await new Promise((r) => setImmediate(r));
    answer();
    const key = await opening;
    expect(sm.outbound.get(peer.id)?.id).to.equal(key.id);
  });
});

describe('init_session payloads', () => {
  it('accept the public key of the largest configurable RSA size (16384 bits, ~2.8 KB of base64)', async () => {
    const { parseInitSessionRequest, MAX_PUBLIC_KEY_CHARS } = await import('../../src/mesh/types.js');
    const big = 'A'.repeat(2800);
    expect(parseInitSessionRequest({ public_key: big }).public_key).to.have.length(2800);
    expect(() => parseInitSessionRequest({ public_key: 'A'.repeat(MAX_PUBLIC_KEY_CHARS + 1) })).to.throw(/public_key/);
  });
});
