// What a registration carries (mesh/membership.ts registration()): an original always gets the
// whole list; a tunmesh peer gets the whole list first, then only the nodes added since the view
// it holds, nothing new when it has our current view, and the whole list again after a failed
// registration (it may not have our view) or when its refresh is due; and an answer to a
// tunmesh sender leaves out what the sender's own registration listed.
import { expect } from 'chai';
import { Membership } from '../../src/mesh/membership.js';
import { Registry, type RemoteNode } from '../../src/mesh/registry.js';
import { createIdentity } from '../../src/mesh/identity.js';
import { localCapabilities, type Capabilities } from '../../src/mesh/capabilities.js';
import type { PeerApi } from '../../src/mesh/peer-api.js';
import type { NodeInfo } from '../../src/mesh/types.js';
import { createLogger } from '../../src/log/logger.js';
import { TEST_TIMING } from '../helpers/timing.js';

const info = (i: number): NodeInfo => ({
  id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  listen_url: `https://198.18.0.${i}:4567`,
  network_addresses: { ipv4: { cidr: '198.19.0.0/16' } },
  node_addresses: { ipv4: { cidr: `198.19.0.${i}/16` } },
});

/** Never called: these tests read the registrations membership builds, not what it sends. */
const noNetwork: PeerApi = {
  nodeInfo: () => Promise.reject(new Error('no network in this test')),
  register: () => Promise.reject(new Error('no network in this test')),
  initSession: () => Promise.reject(new Error('no network in this test')),
};

describe('registrations carry what changed since the view a tunmesh peer holds', () => {
  let now = 1000;
  let registry: Registry;
  let membership: Membership;
  const tunmesh: Capabilities = localCapabilities(true, false, null, 1500);
  const add = (i: number, caps: Capabilities | null = tunmesh): RemoteNode => registry.heardFrom(info(i), caps, now);
  const listed = (peer: RemoteNode): string[] => membership.registration(peer).remote.map((n) => n.listen_url.split('.')[3] ?? '');

  beforeEach(() => {
    now = 1000;
    registry = new Registry(() => 'local', () => ({ base: 5, max: 5 }), { added: () => undefined, removed: () => undefined, changed: () => undefined });
    const self = createIdentity({ listenUrl: 'https://198.18.0.1:4567', networkCidr: '198.19.0.0/16', nodeAddressCidr: '198.19.0.1/16', fastPath: true });
    membership = new Membership({
      self,
      registry,
      api: noNetwork,
      timing: TEST_TIMING,
      groups: [],
      hooks: { onRegistered: () => undefined, event: () => undefined, roundTrip: () => undefined },
      log: createLogger('error'),
      now: () => now,
    });
  });

  it('a tunmesh peer: the whole list, then nothing, then only the nodes added since', () => {
    const peer = add(2);
    add(3);
    expect(listed(peer), 'first: the whole list').to.deep.equal(['2:4567', '3:4567']);
    expect(listed(peer), 'it has our view').to.deep.equal([]);
    add(4);
    add(5);
    registry.remove(info(3).id, 'test');
    expect(listed(peer), 'what was added since').to.deep.equal(['4:4567', '5:4567']);
    expect(listed(peer)).to.deep.equal([]);
  });

  it('a tunmesh peer whose registration failed, or whose refresh is due, gets the whole list again', () => {
    const peer = add(2);
    add(3);
    listed(peer);
    add(4);
    peer.viewSent = -1; // what a failed registration does (registerTo)
    expect(listed(peer)).to.deep.equal(['2:4567', '3:4567', '4:4567']);
    now += 6 * 5 + 1; // FULL_VIEW_EVERY re-registration intervals in a small mesh
    expect(listed(peer)).to.deep.equal(['2:4567', '3:4567', '4:4567']);
  });

  it('an answer to a tunmesh sender leaves out the nodes its registration listed, and the sender', () => {
    for (const i of [3, 4, 5]) add(i);
    const answer = membership.receive(info(2).id, tunmesh, { local: info(2), remote: [info(3), info(9)], stamp: now });
    expect(answer.remote.map((n) => n.listen_url.split('.')[3])).to.deep.equal(['4:4567', '5:4567']);
  });

  it('an answer to an original is the whole list, whatever it listed', () => {
    for (const i of [3, 4]) add(i);
    const answer = membership.receive(info(2).id, null, { local: info(2), remote: [info(3)], stamp: now });
    expect(answer.remote.map((n) => n.listen_url.split('.')[3])).to.deep.equal(['3:4567', '4:4567', '2:4567']);
  });

  it('an original node always gets the whole list (it learns only from whole lists)', () => {
    const original = add(2, null);
    add(3);
    expect(listed(original)).to.deep.equal(['2:4567', '3:4567']);
    expect(listed(original)).to.deep.equal(['2:4567', '3:4567']);
  });
});
