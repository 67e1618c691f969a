// The control plane on real nodes: `tunmesh run` processes in network namespaces on a bridge,
// real TLS, real tokens. Timings are shortened (groom 0.5 s, stale 4 s) so healing is quick.
import { expect } from 'chai';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { MeshLab } from '../../src/lab/mesh-lab.js';
import { uniquePrefix, waitFor, tsxArgs, pingFrom } from '../helpers/netns.js';
import { sampleValue } from '../helpers/metrics.js';

describe('mesh control plane: 3 nodes in namespaces', function () {
  this.timeout(120_000);
  let mesh: MeshLab;

  before(async () => {
    mesh = await MeshLab.create({ tag: uniquePrefix('tmm'), nodes: 3 });
    await mesh.startAll();
  });

  after(async () => {
    await mesh?.cleanup();
  });

  it('three nodes bootstrapping from one URL reach a full mesh', async () => {
    const ms = await mesh.waitForFullMesh(30_000);
    const s = await mesh.status(2);
    expect(s.peers).to.have.length(2);
    console.log(`      full mesh of 3 in ${ms} ms after start`);
  });

  it('opens every session with the first registrations: no init_session between tunmesh nodes', async () => {
    const scrapes = await Promise.all([0, 1, 2].map(async (i) => (await mesh.curl(i, [`${mesh.node(i).url}/metrics`])).body));
    const total = (event: string) => scrapes.reduce((n, m) => n + sampleValue(m, 'tunmesh_session_events_total', `event="${event}"`), 0);
    expect(total('issued'), 'init_session requests answered').to.equal(0);
    expect(total('offered'), 'registrations answered with both sessions').to.be.at.least(3);
    expect(total('opened'), 'one per node and peer').to.be.at.least(6);
    // The offered keys carry traffic: the fast channel is opened with a session token.
    const ping = await pingFrom(mesh.node(1).ns, mesh.node(2).meshAddress, { count: 3, intervalS: 0.2, timeoutS: 2 });
    expect(ping.received, ping.output).to.equal(3);
    const to = (await mesh.status(2)).id;
    expect((await mesh.status(1)).peers.find((p) => p.id === to)?.path).to.equal('fast');
  });

  it('refuses every bad token with 401, bad bodies with 4xx, and stays healthy', async () => {
    const target = await mesh.status(0);
    const knownTunmeshPeer = (await mesh.status(2)).id;
    const r = await mesh.exec(1, process.execPath, tsxArgs('test/fixtures/jwt-negatives.ts', mesh.node(0).url, target.id, mesh.creds.secret, knownTunmeshPeer), 60_000);
    expect(r.code, r.stderr).to.equal(0);
    const results = JSON.parse(r.stdout) as Record<string, number>;
    for (const c of ['no_header', 'plain_bearer', 'alg_none', 'hs512', 'rs256', 'wrong_secret', 'wrong_aud', 'expired', 'not_yet_valid', 'tampered_body', 'unknown_session', 'replayed_cluster', 'stripped_claim', 'downgrade']) {
      expect(results[c], c).to.equal(401);
    }
    expect(results.first_use_unregistered, 'valid token, sender not registered').to.equal(404);
    expect(results.wrong_content_type).to.equal(400);
    expect(results.malformed_json).to.equal(400);
    expect(results.oversized_body).to.equal(413);
    const health = await mesh.curl(1, [`${mesh.node(0).url}/health`]);
    expect(health.status).to.equal(200);
    const metrics = await mesh.curl(1, [`${mesh.node(0).url}/metrics`]);
    expect(metrics.body).to.match(/tunmesh_auth_failures_total\{reason="replayed"[^}]*\} 1/);
    expect(metrics.body).to.match(/tunmesh_auth_failures_total\{reason="downgrade"[^}]*\} 1/);
    // The refused downgrade did not demote the real node 2: it is still on the fast path.
    expect((await mesh.status(0)).peers.find((p) => p.id === knownTunmeshPeer)?.path).to.equal('fast');
  });

  it('does not serve the registration table without a session token', async () => {
    const open = await mesh.curl(1, [`${mesh.node(0).url}/tunmesh/control/v0/registrations`]);
    expect(open.status).to.not.equal(200);
    const withPeer = await mesh.curl(1, [`${mesh.node(0).url}/tunmesh/control/v0/registrations/${(await mesh.status(1)).id}`]);
    expect(withPeer.status).to.equal(401);
  });

  it('learns a node restarted after SIGKILL under its new id and drops the old one', async () => {
    const oldId = (await mesh.status(2)).id;
    await mesh.stop(2, 'SIGKILL');
    await mesh.start(2);
    const newId = (await mesh.status(2)).id;
    expect(newId).to.not.equal(oldId);
    await waitFor(
      async () => {
        const [a, b] = await Promise.all([mesh.status(0), mesh.status(1)]);
        return [a, b].every((s) => s.peers.some((p) => p.id === newId) && !s.peers.some((p) => p.id === oldId));
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'peers to learn the restarted node' },
    );
    await mesh.waitForFullMesh(20_000);
  });

  it('grooms a node cut off by a link failure and takes it back when the link returns', async () => {
    const cut = (await mesh.status(2)).id;
    await mesh.lab.exec(2, 'ip', ['link', 'set', 'eth0', 'down']);
    await waitFor(async () => !(await mesh.status(0)).peers.some((p) => p.id === cut), { timeoutMs: 20_000, intervalMs: 250, what: 'node 0 to groom the cut-off node' });
    await mesh.lab.exec(2, 'ip', ['link', 'set', 'eth0', 'up']);
    const ms = await mesh.waitForFullMesh(40_000);
    console.log(`      rejoined ${ms} ms after the link came back`);
  });

  it('exits 0 on SIGTERM and removes its TUN device', async () => {
    const code = await mesh.stop(1, 'SIGTERM');
    expect(code).to.equal(0);
    const r = await mesh.lab.exec(1, 'ip', ['link', 'show', 'tm0'], { check: false });
    expect(r.code).to.not.equal(0);
  });
});

describe('session rotation under continuous registrations', function () {
  this.timeout(120_000);
  let mesh: MeshLab;

  before(async () => {
    // Rotation every ~4 s (max age 6 s - validity 2 s); registrations every 0.5 s.
    mesh = await MeshLab.create({
      tag: uniquePrefix('tmr'),
      nodes: 2,
      timing: { sessionMaxAge: 6, validityWindow: 2, earlyValidityWindow: 1, reregistration: 0.5, sessionOverlap: 4 },
    });
    await mesh.startAll();
    await mesh.waitForFullMesh(30_000);
  });

  after(async () => {
    await mesh?.cleanup();
  });

  it('rotates sessions at a short interval and refuses nothing meanwhile', async () => {
    const scrape = async () => (await mesh.curl(1, [`${mesh.node(0).url}/metrics`])).body;
    const before = await scrape();
    // Traffic keeps flowing through the fast path across the rotations.
    const ping = pingFrom(mesh.node(0).ns, mesh.node(1).meshAddress, { count: 60, intervalS: 0.25, timeoutS: 2 });
    await new Promise((r) => setTimeout(r, 15_000));
    const after = await scrape();
    const pinged = await ping;
    expect(pinged.received, pinged.output).to.equal(pinged.transmitted);
    const rotated = sampleValue(after, 'tunmesh_session_events_total', 'event="rotated"') - sampleValue(before, 'tunmesh_session_events_total', 'event="rotated"');
    expect(rotated, 'rotations in 15 s').to.be.at.least(2);
    for (const reason of ['unknown_key', 'bad_signature', 'expired', 'wrong_issuer']) {
      expect(sampleValue(after, 'tunmesh_auth_failures_total', `reason="${reason}"`), reason).to.equal(sampleValue(before, 'tunmesh_auth_failures_total', `reason="${reason}"`));
    }
    const failed = sampleValue(after, 'tunmesh_registration_events_total', 'event="register_failed"') - sampleValue(before, 'tunmesh_registration_events_total', 'event="register_failed"');
    expect(failed, 'registration failures during rotation').to.equal(0);
    expect(await mesh.fullMesh()).to.equal(true);
  });
});

describe('mesh control plane: 10 nodes', function () {
  this.timeout(180_000);
  let mesh: MeshLab;

  before(async () => {
    mesh = await MeshLab.create({ tag: uniquePrefix('tmt'), nodes: 10, timing: { groomInterval: 1, reregistration: 2, stale: 10 } });
  });
  after(async () => mesh?.cleanup());

  it('ten nodes bootstrapping from one URL reach a full mesh', async () => {
    const started = Date.now();
    await mesh.startAll();
    await mesh.waitForFullMesh(90_000);
    console.log(`      full mesh of 10 in ${Date.now() - started} ms from process start`);
    const s = await mesh.status(9);
    expect(s.peers.filter((p) => p.state === 'up')).to.have.length(9);
  });
});

describe('reload_config_on_bootstrap (the original option)', function () {
  this.timeout(120_000);
  let mesh: MeshLab;

  before(async () => {
    mesh = await MeshLab.create({ tag: uniquePrefix('tmc'), nodes: 2, bootstrapFrom: [1], firstNode: (i) => i === 1, timing: { bootstrapRetry: 0.5 } });
  });
  after(async () => mesh?.cleanup());

  const rewriteBootstrap = (url: string): void => {
    const path = mesh.node(0).configPath;
    const doc = parseYaml(readFileSync(path, 'utf8')) as { tun_mesh: { clustering: Record<string, unknown> } };
    doc.tun_mesh.clustering.reload_config_on_bootstrap = true;
    doc.tun_mesh.clustering.bootstrap_groups = { default: { bootstrap_node_urls: [url], bootstrap_retries: -1 } };
    writeFileSync(path, stringifyYaml(doc));
    chmodSync(path, 0o644);
  };

  it('picks up bootstrap URLs written into the file after start', async () => {
    // The node drops to uid 65534 and must still be able to read its config to reload it.
    chmodSync(mesh.dir, 0o755);
    rewriteBootstrap('https://198.18.0.99:4567'); // nobody there
    await mesh.start(1);
    await mesh.start(0);
    await new Promise((r) => setTimeout(r, 2000));
    expect((await mesh.status(0)).peers).to.have.length(0);
    rewriteBootstrap(mesh.node(1).url);
    const ms = await mesh.waitForFullMesh(40_000).catch((err: unknown) => {
      throw new Error(`${String(err)}\nnode0 log:\n${mesh.logTail(0, 3000)}`);
    });
    console.log(`      joined ${ms} ms after the config file was fixed`);
  });
});

describe('rotating the cluster secret without a partition', function () {
  this.timeout(120_000);
  const next = 'the-next-cluster-secret-0123456789abcdef';
  const stranger = 'a-secret-this-mesh-does-not-accept-0123';
  let mesh: MeshLab;

  before(async () => {
    // Mid-rotation: node 0 has done step 1 (accepts the new secret), node 1 step 2 (signs with
    // it, still accepts the old one). Node 2 holds a secret neither accepts.
    mesh = await MeshLab.create({
      tag: uniquePrefix('tms'),
      nodes: 3,
      clusterSecrets: (i, old) => [{ secret: old, additional: [next] }, { secret: next, additional: [old] }, { secret: stranger }][i] as { secret: string; additional?: string[] },
    });
    await mesh.startAll();
  });
  after(async () => mesh?.cleanup());

  it('lets a node on the old secret and a node on the new one form a mesh, and keeps a stranger out', async () => {
    await mesh.waitForFullMesh(30_000, [0, 1]);
    // The stranger's first attempt may come before node 0 listens; its retry is refused.
    await waitFor(
      async () => sampleValue((await mesh.curl(1, [`${mesh.node(0).url}/metrics`])).body, 'tunmesh_auth_failures_total', 'reason="bad_signature"') >= 1,
      { timeoutMs: 30_000, intervalMs: 500, what: "node 0 to refuse the stranger's cluster token" },
    );
    expect((await mesh.status(2)).peers.filter((p) => p.state === 'up')).to.have.length(0);
  });
});
