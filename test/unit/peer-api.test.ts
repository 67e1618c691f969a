import { expect } from 'chai';
import { decodeJwt } from 'jose';
import { ClusterKeys } from '../../src/auth/index.js';
import { sessionKey } from '../../src/auth/keys.js';
import { AnswerTimes } from '../../src/mesh/answer-times.js';
import type { HttpClient, HttpResponse } from '../../src/mesh/http-client.js';
import { Pacer } from '../../src/mesh/pacer.js';
import { HttpPeerApi, type KeySource } from '../../src/mesh/peer-api.js';
import { TEST_TIMING } from '../helpers/timing.js';
import type { Registration } from '../../src/mesh/types.js';

const SELF = '00000000-0000-4000-8000-000000000001';
const PEER = { id: '00000000-0000-4000-8000-000000000002', url: 'https://198.18.0.2:4567' };
const TIMING = TEST_TIMING;
const LOCAL = { id: SELF, listen_url: 'https://198.18.0.1:4567', network_addresses: { ipv4: { cidr: '198.19.0.0/16' } }, node_addresses: { ipv4: { cidr: '198.19.0.1/16' } } };
/** How long the peer takes to answer the first request, holding the pacer's only slot. */
const HOLD_MS = 2100;

/** A peer's transport that answers 503 and records when each request left and what it carried. */
class SlowPeer implements Pick<HttpClient, 'request'> {
  readonly sent: Array<{ atMs: number; authorization: string }> = [];

  async request(_m: string, _u: string, _b: string | undefined, headers: Record<string, unknown> = {}): Promise<HttpResponse> {
    this.sent.push({ atMs: Date.now(), authorization: String(headers.authorization) });
    if (this.sent.length === 1) await new Promise((r) => setTimeout(r, HOLD_MS));
    return { status: 503, headers: {}, body: Buffer.from('{"error":"busy"}') };
  }
}

describe('HttpPeerApi: a request waiting for the pacer', function () {
  this.timeout(10_000);

  it('is signed when it gets its slot, not when it started waiting (its token must not age in the queue)', async () => {
    const peer = new SlowPeer();
    const keys: KeySource = {
      selfId: SELF,
      tokenClaims: {},
      cluster: new ClusterKeys('a cluster secret long enough for HS256 tokens'),
      outboundKey: () => Promise.reject(new Error('no sessions in this test')),
      inboundKeys: () => () => undefined,
      outboundRejected: () => undefined,
      registrationClaims: () => ({}),
      acceptOffer: () => false,
    };
    const api = new HttpPeerApi(peer, keys, TIMING, new Pacer({ limit: 1, growLimit: 1 }), new AnswerTimes({ floorMs: 1000, ceilingMs: 15_000 }));
    const reg: Registration = { local: LOCAL, remote: [], stamp: 0 };
    const results = await Promise.allSettled([api.register(PEER, reg, 'cluster'), api.register(PEER, reg, 'cluster')]);
    expect(results.map((r) => r.status)).to.deep.equal(['rejected', 'rejected']);
    const second = peer.sent[1];
    expect(second, 'the second request was sent').to.not.equal(undefined);
    const iat = decodeJwt((second?.authorization ?? '').split(' ')[1] ?? '').iat as number;
    // Signed as it left (iat is whole seconds, so up to 1 s before), not HOLD_MS earlier.
    expect((second?.atMs ?? 0) / 1000 - iat).to.be.within(0, 1.05);
  });

  it('keeps the session after a refusal of the token\'s times, and drops it after any other 4xx', async () => {
    const dropped: string[] = [];
    const session = sessionKey('00000000-0000-4000-8000-00000000000a', Buffer.alloc(64, 7));
    const keys: KeySource = {
      selfId: SELF,
      tokenClaims: {},
      cluster: new ClusterKeys('a cluster secret long enough for HS256 tokens'),
      outboundKey: () => Promise.resolve(session),
      inboundKeys: () => () => undefined,
      outboundRejected: (_peer, id) => void dropped.push(id),
      registrationClaims: () => ({}),
      acceptOffer: () => false,
    };
    const refusing = (reason: string): Pick<HttpClient, 'request'> => ({
      request: () => Promise.resolve({ status: 401, headers: {}, body: Buffer.from(JSON.stringify({ error: 'Unauthorized', reason })) }),
    });
    const reg: Registration = { local: LOCAL, remote: [], stamp: 0 };
    for (const [reason, drops] of [['expired', false], ['not_yet_valid', false], ['bad_signature', true]] as const) {
      dropped.length = 0;
      const api = new HttpPeerApi(refusing(reason), keys, TIMING, new Pacer({ limit: 1, growLimit: 1 }), new AnswerTimes({ floorMs: 1000, ceilingMs: 15_000 }));
      const result = await api.register(PEER, reg, 'session').then(() => 'answered', () => 'refused');
      expect(result, reason).to.equal('refused');
      expect(dropped, reason).to.deep.equal(drops ? [session.id] : []);
    }
  });
});
