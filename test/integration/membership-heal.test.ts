// Healing in the orders sidecars really start and restart in: a node that comes up before its
// bootstrap peer, and a bootstrap node that restarts with a new id at the same URL.
import { expect } from 'chai';
import { readFileSync, writeFileSync } from 'node:fs';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { MeshLab } from '../../src/lab/mesh-lab.js';
import { uniquePrefix, waitFor } from '../helpers/netns.js';

type Yaml = Record<string, Record<string, Record<string, Record<string, Record<string, unknown>>>>>;

/** Leaves bootstrap_retries out of node i's config file, so the default applies. */
function omitBootstrapRetries(mesh: MeshLab, i: number): void {
  const path = mesh.node(i).configPath;
  const doc = parseYaml(readFileSync(path, 'utf8')) as Yaml;
  const group = doc.tun_mesh!.clustering!.bootstrap_groups!.default!;
  delete group.bootstrap_retries;
  writeFileSync(path, stringifyYaml(doc), { mode: 0o600 });
}

describe('a node that starts before its bootstrap peer (bootstrap_retries left at its default)', function () {
  this.timeout(90_000);
  let mesh: MeshLab;

  before(async () => {
    mesh = await MeshLab.create({ tag: uniquePrefix('tmb'), nodes: 2 });
    omitBootstrapRetries(mesh, 1);
  });
  after(async () => mesh?.cleanup());

  it('keeps retrying, as the original does by default, and joins once the peer is up', async () => {
    await mesh.start(1);
    await new Promise((r) => setTimeout(r, 3000)); // node 1's bootstrap peer is not there yet
    expect((await mesh.status(1)).peers).to.have.length(0);
    await mesh.start(0);
    const ms = await mesh.waitForFullMesh(30_000);
    console.log(`      joined ${ms} ms after its bootstrap peer started`);
    expect(readFileSync(mesh.node(1).logPath, 'utf8')).to.not.contain('bootstrap gave up');
  });
});

describe('a bootstrap node restarted with a new id at the same URL', function () {
  this.timeout(90_000);
  // Stale threshold far above the re-registration interval: grooming cannot be what heals.
  const reregistration = 2;
  let mesh: MeshLab;

  before(async () => {
    mesh = await MeshLab.create({ tag: uniquePrefix('tmh'), nodes: 3, timing: { reregistration, stale: 60 } });
    await mesh.startAll();
    await mesh.waitForFullMesh(30_000);
  });
  after(async () => mesh?.cleanup(!!process.env.KEEP_LAB_DIR));

  it('is re-adopted by its peers within one re-registration interval, the old id dropped', async () => {
    const oldId = (await mesh.status(0)).id;
    await mesh.stop(0, 'SIGKILL');
    await mesh.start(0); // its bootstrap list is empty: only its peers can bring it back
    const newId = (await mesh.status(0)).id;
    expect(newId).to.not.equal(oldId);
    const started = Date.now();
    await waitFor(
      async () => {
        const peers = await Promise.all([mesh.status(1), mesh.status(2)]);
        return peers.every((s) => s.peers.some((p) => p.id === newId && p.state === 'up') && !s.peers.some((p) => p.id === oldId));
      },
      { timeoutMs: 20_000, intervalMs: 100, what: 'peers to re-adopt the restarted node' },
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(`      re-adopted ${seconds.toFixed(2)} s after the restart (re-registration interval ${reregistration} s, stale 60 s)`);
    // One interval, plus the session that follows the registration and the poll.
    expect(seconds).to.be.below(reregistration + 1.5);
    await mesh.waitForFullMesh(10_000);
  });
});
