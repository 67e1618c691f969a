// Interop with original TunMesh v0.7 nodes, on the wire as the reference describes them: a
// fixture plays the original (no `wrap` field, so PKCS#1 v1.5 key wrap; no fast path; JSON v3
// packet batches) against a real tunmesh node in a namespace.
import { expect } from 'chai';
import { MeshLab } from '../../src/lab/mesh-lab.js';
import { uniquePrefix, tsxArgs } from '../helpers/netns.js';

interface PeerResult {
  registered: number;
  sessionWrap?: string;
  sent?: number;
  replies?: number[];
  refusedStatus?: number;
}

async function playOriginal(mesh: MeshLab): Promise<PeerResult> {
  const original = mesh.node(1);
  const args = [mesh.node(0).url, mesh.node(0).meshAddress, mesh.creds.secret, original.url, `${original.meshAddress}/24`, '198.19.0.0/16', mesh.creds.certPath, mesh.creds.keyPath];
  const r = await mesh.exec(1, process.execPath, tsxArgs('test/fixtures/original-peer.ts', ...args), 60_000);
  expect(r.code, r.stderr).to.equal(0);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as PeerResult;
}

describe('interop with an original v0.7 node, legacy PKCS#1 interop enabled', function () {
  this.timeout(120_000);
  let mesh: MeshLab;

  before(async () => {
    mesh = await MeshLab.create({ tag: uniquePrefix('tmi'), nodes: 2, legacyInterop: true });
    await mesh.start(0); // node 1's namespace hosts the original-node fixture
  });
  after(async () => mesh?.cleanup());

  it('registers it, wraps its session secret with PKCS#1 v1.5, and answers its JSON packets', async () => {
    const result = await playOriginal(mesh);
    expect(result.registered).to.equal(200);
    expect(result.sessionWrap).to.equal('pkcs1');
    expect(result.sent).to.equal(204);
    // The kernel's echo replies travelled back through tunmesh's worker as JSON batch POSTs,
    // under a session the original issued with PKCS#1 v1.5 and tunmesh unwrapped.
    expect(result.replies).to.deep.equal([1, 2, 3]);
    const peer = (await mesh.status(0)).peers.find((p) => p.address === `${mesh.node(1).meshAddress}/24`);
    expect(peer?.path).to.equal('legacy');
  });
});

describe('interop with an original v0.7 node, legacy interop disabled (the default)', function () {
  this.timeout(120_000);
  let mesh: MeshLab;

  before(async () => {
    mesh = await MeshLab.create({ tag: uniquePrefix('tmj'), nodes: 2 });
    await mesh.start(0);
  });
  after(async () => mesh?.cleanup());

  it('refuses to hand it a PKCS#1 v1.5 wrapped secret', async () => {
    const result = await playOriginal(mesh);
    expect(result.registered).to.equal(200);
    expect(result.refusedStatus).to.equal(400);
  });
});
