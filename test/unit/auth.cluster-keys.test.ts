import { expect } from 'chai';
import { ClusterKeys, ReplayCache, clusterKey, signToken, AuthError } from '../../src/auth/index.js';

const OLD = 'the-old-cluster-secret-0123456789abcdef';
const NEW = 'the-new-cluster-secret-0123456789abcdef';
const OTHER = 'a-secret-nobody-here-accepts-0123456789';
const SENDER = '11111111-1111-4111-8111-111111111111';
const RECEIVER = '22222222-2222-4222-8222-222222222222';
const NOW = 1_700_000_000;
const BODY = '{"x":1}';

const tokenWith = (secret: string, audience = RECEIVER) =>
  signToken({ key: clusterKey(secret), issuer: SENDER, audience, body: BODY, now: NOW, earlyValidity: 5, validity: 30 });
const options = { audience: RECEIVER, body: BODY, now: NOW, maxClockSkew: 0 };

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AuthError) return err.reason;
    throw err;
  }
  return 'accepted';
}

describe('cluster secret rotation (ClusterKeys)', () => {
  it('accepts tokens signed with the signing secret or an additional one', async () => {
    const keys = new ClusterKeys(NEW, [OLD]);
    expect((await keys.verify(await tokenWith(NEW), options)).issuer).to.equal(SENDER);
    expect((await keys.verify(await tokenWith(OLD), options)).issuer).to.equal(SENDER);
  });

  it('signs only with the signing secret', () => {
    const keys = new ClusterKeys(NEW, [OLD]);
    expect(keys.signing.key.export().toString()).to.equal(NEW);
  });

  it('refuses a secret it does not accept as bad_signature', async () => {
    expect(await refusal(new ClusterKeys(NEW, [OLD]).verify(await tokenWith(OTHER), options))).to.equal('bad_signature');
  });

  it('does not let an additional secret hide another refusal (wrong audience stays wrong_audience)', async () => {
    const keys = new ClusterKeys(NEW, [OLD]);
    expect(await refusal(keys.verify(await tokenWith(OLD, SENDER), options))).to.equal('wrong_audience');
  });

  it('still refuses a replayed token signed with an additional secret', async () => {
    const keys = new ClusterKeys(NEW, [OLD]);
    const cache = new ReplayCache();
    const token = await tokenWith(OLD);
    await keys.verify(token, { ...options, replayCache: cache });
    expect(await refusal(keys.verify(token, { ...options, replayCache: cache }))).to.equal('replayed');
  });
});
