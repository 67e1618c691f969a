// The session manager against a scripted peer API (the peer side is not under test here; the
// real exchange is covered by the mesh integration tests).
import { expect } from 'chai';
import { randomBytes, randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { ClusterKeys, generateNodeKeyPair, wrapSecret } from '../../src/auth/index.js';
import { SessionManager, type NodeKeyPair } from '../../src/mesh/session-manager.js';
import { OAEP, LEGACY, capabilityClaims, localCapabilities, type Capabilities } from '../../src/mesh/capabilities.js';
import type { PeerApi, Signed } from '../../src/mesh/peer-api.js';
import { AuthError } from '../../src/auth/errors.js';
import type { MeshTiming } from '../../src/mesh/timing.js';
import type { InitSessionResponse } from '../../src/mesh/types.js';
import { createLogger } from '../../src/log/logger.js';

const TIMING: MeshTiming = {
  requestTimeout: 1, groomInterval: 5, startupGrace: 0, bootstrapRetryInterval: 15,
  local: { reregistrationInterval: 5, staleThreshold: 30 }, mesh: { reregistrationInterval: 30, staleThreshold: 120 },
  sessionMaxAge: 3600, earlyValidityWindow: 5, validityWindow: 30, sessionOverlap: 30, maxClockSkew: 5, keepaliveRate: 3,
};
const quiet = createLogger('error', 'json', new Writable({ write: (_c, _e, cb) => cb() }));
const peer = { id: randomUUID(), url: 'https://198.18.0.11:4567' };

let keys: NodeKeyPair;

const TUNMESH_PEER: Capabilities = localCapabilities(true);

/**
 * A peer API whose init_session answers when the test says so, wrapping as a peer with
 * `capabilities` would (null: an original node, PKCS#1 v1.5).
 */
function scriptedApi(capabilities: Capabilities | null = TUNMESH_PEER): { api: PeerApi; answer: () => void } {
  let release: () => void = () => undefined;
  const scheme = capabilities === null ? LEGACY : OAEP;
  const api: PeerApi = {
    nodeInfo: () => Promise.reject(new Error('not used')),
    register: () => Promise.reject(new Error('not used')),
    initSession: (_p, request) =>
      new Promise<Signed<InitSessionResponse>>((resolve) => {
        release = () => resolve({ value: { id: randomUUID(), secret: wrapSecret(request.public_key, randomBytes(64), scheme) }, capabilities });
      }),
  };
  return { api, answer: () => release() };
}

function manager(api: PeerApi, opts: { legacyInterop?: boolean; knownTunmesh?: boolean } = {}): SessionManager {
  const events = { rotated: () => undefined, failed: () => undefined, changed: () => undefined };
  // As the registry's check: a claim-less token from a node known as tunmesh is a downgrade.
  const check = (_id: string, c: Capabilities | null) => {
    if (opts.knownTunmesh && c === null) throw new AuthError('downgrade', 'known tunmesh node signed without its claim');
  };
  const claims = capabilityClaims(localCapabilities(true));
  const sm = new SessionManager(randomUUID(), claims, new ClusterKeys('c'.repeat(32)), keys, TIMING, opts.legacyInterop ?? false, check, events, quiet, () => Date.now() / 1000);
  sm.attach(api);
  return sm;
}

async function openWith(sm: SessionManager, answer: () => void): Promise<string> {
  const opening = sm.open(peer);
  await new Promise((r) => setImmediate(r));
  answer();
  return opening.then(() => 'opened', (err: Error) => err.message);
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

  it('unwraps PKCS#1 v1.5 from a claim-less (original) answer only with legacy interop on', async () => {
    const off = scriptedApi(null);
    expect(await openWith(manager(off.api), off.answer)).to.match(/original node.*legacy_pkcs1_interop/);
    const on = scriptedApi(null);
    const sm = manager(on.api, { legacyInterop: true });
    expect(await openWith(sm, on.answer)).to.equal('opened');
    expect(sm.outbound.get(peer.id)).to.not.equal(undefined);
  });

  it('refuses a claim-less answer from a node known as tunmesh, even with legacy interop on', async () => {
    const { api, answer } = scriptedApi(null);
    const sm = manager(api, { legacyInterop: true, knownTunmesh: true });
    expect(await openWith(sm, answer)).to.match(/downgrade/);
    expect(sm.outbound.get(peer.id)).to.equal(undefined);
  });

  it('issues OAEP to a claim that offers it, PKCS#1 v1.5 to an original only with interop on', async () => {
    const requester = await generateNodeKeyPair(2048);
    const request = { public_key: requester.publicKeyDerB64 };
    expect(() => manager(scriptedApi().api).issue(peer.id, request, null)).to.throw(/legacy interop is disabled/);
    expect(() => manager(scriptedApi().api).issue(peer.id, request, { fastPath: 1, wrap: [] })).to.throw(/no key-wrap scheme/);
    const answer = manager(scriptedApi().api).issue(peer.id, request, TUNMESH_PEER);
    expect(Object.keys(answer)).to.deep.equal(['id', 'secret']); // the original's shape, nothing added
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
