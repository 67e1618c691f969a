// The rule every node applies to an allocated address that another node holds too.
import { expect } from 'chai';
import { Registry } from '../../src/mesh/registry.js';
import { addressConflict } from '../../src/mesh/address-claim.js';
import { capabilitiesOf, capabilityClaims, localCapabilities, type Capabilities } from '../../src/mesh/capabilities.js';
import { createIdentity, endClaiming } from '../../src/mesh/identity.js';
import type { NodeInfo } from '../../src/mesh/types.js';

const ADDRESS = '198.19.0.3';
const events = { added: () => undefined, removed: () => undefined, changed: () => undefined };

function info(id: string, address = ADDRESS): NodeInfo {
  return { id, listen_url: `https://198.18.0.${id.length}:4567`, network_addresses: { ipv4: { cidr: '198.19.0.0/24' } }, node_addresses: { ipv4: { cidr: `${address}/24` } } };
}

/** A registry holding one peer `id` at our address, as tunmesh (claiming or not) or as an original. */
function holding(id: string, caps: Capabilities | null): Registry {
  const r = new Registry(() => 'local', () => ({ base: 1, max: 5 }), events);
  r.heardFrom(info(id), caps, 1);
  return r;
}

const held = localCapabilities(true);
const claiming: Capabilities = { ...held, claiming: true };

describe('allocated address conflicts: one rule, both ends agree', () => {
  it('between two of the same standing, the lower id keeps it', () => {
    for (const standing of [false, true]) {
      const caps = standing ? claiming : held;
      expect(addressConflict({ id: 'b', address: ADDRESS, claiming: standing }, holding('a', caps).all())?.keeper).to.equal('a');
      expect(addressConflict({ id: 'a', address: ADDRESS, claiming: standing }, holding('b', caps).all())).to.equal(undefined);
    }
  });

  it('a node that holds it already keeps it over one still claiming, whatever the ids', () => {
    expect(addressConflict({ id: 'a', address: ADDRESS, claiming: true }, holding('b', held).all())?.keeper).to.equal('b');
    expect(addressConflict({ id: 'b', address: ADDRESS, claiming: false }, holding('a', claiming).all())).to.equal(undefined);
  });

  it('an original keeps it always (it cannot move); other addresses are no conflict', () => {
    expect(addressConflict({ id: 'a', address: ADDRESS, claiming: false }, holding('z', null).all())?.keeper).to.equal('z');
    const r = new Registry(() => 'local', () => ({ base: 1, max: 5 }), events);
    r.heardFrom(info('a', '198.19.0.4'), held, 1);
    expect(addressConflict({ id: 'b', address: ADDRESS, claiming: true }, r.all())).to.equal(undefined);
  });

  it('names every taken address, so the next choice skips them', () => {
    const r = holding('a', held);
    r.heardFrom(info('aa', '198.19.0.9'), held, 1);
    expect([...(addressConflict({ id: 'b', address: ADDRESS, claiming: true }, r.all())?.taken ?? [])].sort()).to.deep.equal(['198.19.0.3', '198.19.0.9']);
  });

  it('claiming travels in the signed claim and ends in place when the window closes', () => {
    const self = createIdentity({ listenUrl: 'https://198.18.0.1:4567', networkCidr: '198.19.0.0/24', nodeAddressCidr: `${ADDRESS}/24`, fastPath: true, claiming: true });
    expect(capabilitiesOf(self.tokenClaims)?.claiming).to.equal(true);
    const shared = self.tokenClaims; // what the session manager and the peer API sign with
    endClaiming(self);
    expect(capabilitiesOf(shared)?.claiming).to.equal(undefined);
    expect(self.capabilities.claiming).to.equal(undefined);
    expect(capabilitiesOf(capabilityClaims(held))).to.deep.equal(held);
  });
});
