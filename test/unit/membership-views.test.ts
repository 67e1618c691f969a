// What a registration carries (mesh/membership.ts registration()): an original always gets the
// whole list; a tunmesh peer gets the whole list first, then only the nodes added since the view
// it holds, nothing new when it has our current view, and the whole list again after a failed
// registration (it may not have our view) or when its refresh is due; and an answer to a
// tunmesh sender leaves out what the sender's own registration listed, and counts as told.
import { expect } from 'chai';
import { Membership } from '../../src/mesh/membership.js';
import { Registry, type RemoteNode } from '../../src/mesh/registry.js';
import { createIdentity } from '../../src/mesh/identity.js';
import { localCapabilities, type Capabilities } from '../../src/mesh/capabilities.js';
import type { PeerApi, PeerTarget, Signed } from '../../src/mesh/peer-api.js';
import { PeerUnreachable } from '../../src/mesh/http-client.js';
import type { InitSessionResponse, NodeInfo, Registration } from '../../src/mesh/types.js';
import { createLogger } from '../../src/log/logger.js';
import { TEST_TIMING } from '../helpers/timing.js';

const info = (i: number): NodeInfo => ({
  id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  listen_url: `https://198.18.0.${i}:4567`,
  network_addresses: { ipv4: { cidr: '198.19.0.0/16' } },
  node_addresses: { ipv4: { cidr: `198.19.0.${i}/16` } },
});

/** A peer's end of the wire: records each registration sent, answers as the peer (or fails, when told to). */
class Peers implements PeerApi {
  readonly sent: Registration[] = [];
  failNext = false;
  constructor(private readonly caps: (id: string) => Capabilities | null) {}
  nodeInfo(): Promise<{ id: string; listen_url: string }> {
    return Promise.reject(new Error('not asked in this test'));
  }
  register(peer: PeerTarget, reg: Registration): Promise<Signed<Registration>> {
    this.sent.push(reg);
    if (this.failNext) {
      this.failNext = false;
      return Promise.reject(new PeerUnreachable(peer.url, 'timed out after 1000 ms', true));
    }
    const i = Number(peer.url.split('.')[3]?.split(':')[0]);
    return Promise.resolve({ value: { local: info(i), remote: [], stamp: 0 }, capabilities: this.caps(peer.id) });
  }
  initSession(): Promise<Signed<InitSessionResponse>> {
    return Promise.reject(new Error('not asked in this test'));
  }
}

describe('registrations carry what changed since the view a tunmesh peer holds', () => {
  let now = 1000;
  let registry: Registry;
  let membership: Membership;
  let peers: Peers;
  const tunmesh: Capabilities = localCapabilities(true, false, null, 1500);
  const add = (i: number, caps: Capabilities | null = tunmesh): RemoteNode => registry.heardFrom(info(i), caps, now);
  const last = (i: number): string[] => peers.sent[i]?.remote.map((n) => n.listen_url.split('.')[3] ?? '') ?? [];
  /** What our next registration to `peer` lists (it answers). */
  const listed = async (peer: RemoteNode): Promise<string[]> => {
    await membership.registerTo(peer);
    return last(peers.sent.length - 1);
  };

  beforeEach(() => {
    now = 1000;
    registry = new Registry(() => 'local', () => ({ base: 5, max: 5 }), { added: () => undefined, removed: () => undefined, changed: () => undefined });
    const self = createIdentity({ listenUrl: 'https://198.18.0.1:4567', networkCidr: '198.19.0.0/16', nodeAddressCidr: '198.19.0.1/16', fastPath: true });
    peers = new Peers((id) => registry.get(id)?.capabilities ?? null);
    membership = new Membership({
      self,
      registry,
      api: peers,
      timing: TEST_TIMING,
      groups: [],
      hooks: { onRegistered: () => undefined, event: () => undefined, roundTrip: () => undefined },
      log: createLogger('error'),
      now: () => now,
    });
  });

  it('a tunmesh peer: the whole list, then nothing, then only the nodes added since', async () => {
    const peer = add(2);
    add(3);
    expect(await listed(peer), 'first: the whole list').to.deep.equal(['2:4567', '3:4567']);
    expect(await listed(peer), 'it has our view').to.deep.equal([]);
    add(4);
    add(5);
    registry.remove(info(3).id, 'test');
    expect(await listed(peer), 'what was added since').to.deep.equal(['4:4567', '5:4567']);
    expect(await listed(peer)).to.deep.equal([]);
  });

  it('a registration that got no answer is not counted as told: the next one is the whole list', async () => {
    const peer = add(2);
    add(3);
    await listed(peer);
    add(4);
    peers.failNext = true;
    expect(await listed(peer), 'the lost one').to.deep.equal(['4:4567']);
    expect(await listed(peer)).to.deep.equal(['2:4567', '3:4567', '4:4567']);
  });

  it('a tunmesh peer whose refresh is due gets the whole list again', async () => {
    const peer = add(2);
    add(3);
    await listed(peer);
    now += 6 * 5 + 1; // FULL_VIEW_EVERY re-registration intervals in a small mesh
    expect(await listed(peer)).to.deep.equal(['2:4567', '3:4567']);
    expect(await listed(peer)).to.deep.equal([]);
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

  it('an answer counts as told: the next registration carries only what was added after it', async () => {
    const peer = add(2);
    await listed(peer);
    add(3);
    const answer = membership.receive(info(2).id, tunmesh, { local: info(2), remote: [], stamp: now });
    expect(answer.remote.map((n) => n.listen_url.split('.')[3])).to.deep.equal(['3:4567']);
    add(4);
    expect(await listed(peer)).to.deep.equal(['4:4567']);
  });

  it('a peer our last registration failed to reach is retried on its own schedule, not pushed back by its registrations to us', async () => {
    const peer = add(2);
    await listed(peer);
    peers.failNext = true;
    await listed(peer);
    expect(peer.faults.consecutiveFailures).to.equal(1);
    const due = peer.dueAt;
    now += 1;
    membership.receive(info(2).id, tunmesh, { local: info(2), remote: [], stamp: now });
    expect(peer.dueAt, 'the retry stays due').to.equal(due);
    await listed(peer);
    expect(peer.faults.consecutiveFailures).to.equal(0);
    membership.receive(info(2).id, tunmesh, { local: info(2), remote: [], stamp: now });
    expect(peer.dueAt, 'a healthy link: the exchange counts as ours').to.be.above(now);
  });

  it('an original node always gets the whole list (it learns only from whole lists)', async () => {
    const original = add(2, null);
    add(3);
    expect(await listed(original)).to.deep.equal(['2:4567', '3:4567']);
    expect(await listed(original)).to.deep.equal(['2:4567', '3:4567']);
  });
});
