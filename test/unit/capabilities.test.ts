// The capability carrier: a private claim under the token's MAC. What a stripper, an editor and
// a key holder who signs without the claim each meet.
import { expect } from 'chai';
import { randomUUID } from 'node:crypto';
import { clusterKey, signToken, verifyToken, AuthError } from '../../src/auth/index.js';
import {
  CAPABILITY_CLAIM,
  LEGACY,
  OAEP,
  capabilitiesOf,
  capabilityClaims,
  fastPathWith,
  localCapabilities,
  offloadWith,
  wrapSchemeFor,
} from '../../src/mesh/capabilities.js';
import { Registry } from '../../src/mesh/registry.js';
import { createIdentity, withDataPlane } from '../../src/mesh/identity.js';

const key = clusterKey('k'.repeat(32));
const sender = randomUUID();
const receiver = randomUUID();
const body = '{"public_key":"x"}';

function sign(extraClaims?: Record<string, unknown>): Promise<string> {
  return signToken({ key, issuer: sender, audience: receiver, body, earlyValidity: 5, validity: 30, ...(extraClaims ? { extraClaims } : {}) });
}

function verify(token: string) {
  return verifyToken(token, { keys: (id) => (id === key.id ? { key } : undefined), audience: receiver, body, maxClockSkew: 5 });
}

/** Rewrites a token's claims without re-signing (what a party without the key can do). */
function tamper(token: string, edit: (claims: Record<string, unknown>) => void): string {
  const [h, p, s] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
  edit(claims);
  return [h, Buffer.from(JSON.stringify(claims)).toString('base64url'), s].join('.');
}

function node(id: string) {
  return { id, listen_url: 'https://198.18.0.11:4567', network_addresses: { ipv4: { cidr: '198.19.0.0/16' } }, node_addresses: { ipv4: { cidr: '198.19.0.2/24' } } };
}

describe('capability claim', () => {
  const ours = capabilityClaims(localCapabilities(true));

  it('travels after the original seven claims and comes back as signed', async () => {
    const token = await sign(ours);
    const names = Object.keys(JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8')) as object);
    expect(names).to.deep.equal(['iss', 'iat', 'nbf', 'exp', 'aud', 'sig', 'sub', 'jti', CAPABILITY_CLAIM]);
    const verified = await verify(token);
    expect(capabilitiesOf(verified.extraClaims)).to.deep.equal({ fastPath: 1, wrap: [OAEP] });
  });

  it('cannot be stripped or edited without the key: the MAC fails', async () => {
    const token = await sign(ours);
    const stripped = tamper(token, (c) => delete c[CAPABILITY_CLAIM]);
    const edited = tamper(token, (c) => (c[CAPABILITY_CLAIM] = { fast_path: 0, wrap: [LEGACY] }));
    for (const t of [stripped, edited]) {
      const err = await verify(t).then(() => undefined, (e: unknown) => e);
      expect(err).to.be.instanceOf(AuthError);
      expect((err as AuthError).reason).to.equal('bad_signature');
    }
  });

  it('is absent from an original node\'s token (null), and may not override a standard claim', async () => {
    expect(capabilitiesOf((await verify(await sign())).extraClaims)).to.equal(null);
    const err = await sign({ aud: 'someone-else' }).then(() => undefined, (e: unknown) => e);
    expect(String(err)).to.match(/would override a standard claim/);
  });

  it('ignores keys it does not know (room for later versions) and refuses a claim that is not an object', () => {
    expect(capabilitiesOf({ [CAPABILITY_CLAIM]: { fast_path: 1, wrap: [OAEP, 'rot13'], ipv6: '2001:2::1/64' } })).to.deep.equal({ fastPath: 1, wrap: [OAEP] });
    expect(() => capabilitiesOf({ [CAPABILITY_CLAIM]: 'fast' })).to.throw(AuthError, /not an object/);
  });

  it('decides the wrap scheme and the data path', () => {
    expect(wrapSchemeFor(localCapabilities(true), false)).to.equal(OAEP);
    expect(wrapSchemeFor({ fastPath: 1, wrap: [LEGACY] }, true)).to.equal(undefined); // never PKCS#1 between tunmesh nodes
    expect(wrapSchemeFor(null, true)).to.equal(LEGACY);
    expect(wrapSchemeFor(null, false)).to.equal(undefined);
    expect(fastPathWith(localCapabilities(true), true)).to.equal(true);
    expect(fastPathWith(localCapabilities(false), true)).to.equal(false);
    expect(fastPathWith(localCapabilities(true), false)).to.equal(false);
    expect(fastPathWith(null, true)).to.equal(false);
  });

  it('announces offloads as `offload: 1` beside an unchanged `fast_path: 1`, signed and read back', async () => {
    const claims = capabilityClaims(localCapabilities(true, true));
    expect(claims[CAPABILITY_CLAIM]).to.deep.equal({ fast_path: 1, wrap: [OAEP], offload: 1 });
    const back = capabilitiesOf((await verify(await sign(claims))).extraClaims);
    expect(back).to.deep.equal({ fastPath: 1, wrap: [OAEP], offload: 1 });
    // An older node compares fast_path === 1 only: it still takes us for a fast-path peer.
    expect(fastPathWith(back, true)).to.equal(true);
    // No offloads without the fast path, and nothing announced when off.
    expect(capabilityClaims(localCapabilities(false, true))[CAPABILITY_CLAIM]).to.deep.equal({ fast_path: 0, wrap: [OAEP] });
    expect(capabilityClaims(localCapabilities(true, false))[CAPABILITY_CLAIM]).to.deep.equal({ fast_path: 1, wrap: [OAEP] });
  });

  it('announces the channel port as `channel_port` (with the fast path only) and reads back only a valid port', async () => {
    const identity = withDataPlane(createIdentity({ listenUrl: 'https://198.18.0.1:4567', networkCidr: '198.19.0.0/16', nodeAddressCidr: '198.19.0.1/24', fastPath: true }), { offload: false, channelPort: 4568 });
    expect(identity.tokenClaims[CAPABILITY_CLAIM]).to.deep.equal({ fast_path: 1, wrap: [OAEP], channel_port: 4568 });
    expect(capabilitiesOf((await verify(await sign(identity.tokenClaims))).extraClaims)?.channelPort).to.equal(4568);
    const noFastPath = withDataPlane(createIdentity({ listenUrl: 'https://198.18.0.1:4567', networkCidr: '198.19.0.0/16', nodeAddressCidr: '198.19.0.1/24', fastPath: false }), { offload: false, channelPort: 4568 });
    expect(noFastPath.tokenClaims[CAPABILITY_CLAIM]).to.deep.equal({ fast_path: 0, wrap: [OAEP] });
    for (const bad of [0, -1, 65536, 4568.5, '4568', null]) {
      expect(capabilitiesOf({ [CAPABILITY_CLAIM]: { fast_path: 1, wrap: [OAEP], channel_port: bad } })?.channelPort, String(bad)).to.equal(undefined);
    }
  });

  it('uses v2 frames only when both ends offer offload version 1', () => {
    expect(offloadWith(localCapabilities(true, true), true)).to.equal(true);
    expect(offloadWith(localCapabilities(true, true), false)).to.equal(false);
    expect(offloadWith(localCapabilities(true, false), true)).to.equal(false);
    expect(offloadWith(null, true)).to.equal(false);
    expect(offloadWith({ fastPath: 1, wrap: [OAEP], offload: 2 }, true)).to.equal(false);
    expect(capabilitiesOf({ [CAPABILITY_CLAIM]: { fast_path: 1, wrap: [OAEP], offload: 'yes' } })).to.deep.equal({ fastPath: 1, wrap: [OAEP] });
  });
});

describe('registry: a tunmesh node stays tunmesh', () => {
  const events = { added: () => undefined, removed: () => undefined, changed: () => undefined };
  const registry = () => new Registry(() => 'local', () => ({ base: 1, max: 5 }), events);

  it('refuses a claim-less token from a node that announced capabilities (downgrade)', () => {
    const r = registry();
    const id = randomUUID();
    r.heardFrom(node(id), localCapabilities(true), 1);
    expect(() => r.checkCapabilities(id, null)).to.throw(AuthError, /downgrade/);
    expect(() => r.heardFrom(node(id), null, 2)).to.throw(AuthError, /downgrade/);
    expect(r.get(id)?.capabilities).to.deep.equal(localCapabilities(true));
  });

  it('accepts claim-less tokens from an original node for its whole life', () => {
    const r = registry();
    const id = randomUUID();
    r.heardFrom(node(id), null, 1);
    expect(() => r.checkCapabilities(id, null)).to.not.throw();
    expect(r.heardFrom(node(id), null, 2).capabilities).to.equal(null);
  });
});
