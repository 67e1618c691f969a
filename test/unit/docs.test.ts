// The docs and deploy examples stay true to the code: the config reference is the generated one,
// alerts and the dashboard only use metrics that exist, the Kubernetes example has the probes,
// capability, device and env vars tunmesh needs, and its config loads.
import { expect } from 'chai';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { configReferenceMarkdown, REFERENCE_END, REFERENCE_START } from '../../src/cli/config-reference.js';
import { configFromObject } from '../../src/config/load.js';
import { BOOTSTRAP_URLS_ENV, isLeaf, schema } from '../../src/config/schema.js';
import { MAIN_NODE_FLAGS } from '../../src/node/node-flags.js';
import type { TunmeshConfig } from '../../src/config/types.js';
import { cidrContains } from '../../src/tun/ipv4.js';
import { namedHost } from '../../src/mesh/bootstrap-dns.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (typeof v === 'object' && v !== null ? (v as Obj) : {});
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Every source file that registers metrics (imports prom-client) or names them (a metrics.ts): metrics live beside what they count. */
function metricSource(): string {
  const dir = join(ROOT, 'src');
  const files = readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts'));
  return files
    .map((f) => ({ f, text: readFileSync(join(dir, f), 'utf8') }))
    .filter(({ f, text }) => text.includes("from 'prom-client'") || f.endsWith('metrics.ts'))
    .map(({ text }) => text)
    .join('\n');
}

function metricNamesIn(text: string): string[] {
  return [...new Set(text.match(/\btunmesh_[a-z0-9_]+\b/g) ?? [])];
}

function schemaEnvVars(): Set<string> {
  const found = new Set<string>([BOOTSTRAP_URLS_ENV]);
  const walk = (node: unknown): void => {
    if (isLeaf(node)) {
      if (typeof node.env === 'string') found.add(node.env);
      return;
    }
    if (typeof node === 'object' && node !== null) for (const child of Object.values(node)) walk(child);
  };
  walk(schema);
  return found;
}

/** The Kubernetes examples: each folder of deploy/kubernetes with its workload, plus the shared Secret. */
const EXAMPLES = ['statefulset', 'deployment'] as const;
type Example = (typeof EXAMPLES)[number];

function parseManifests(path: string): Obj[] {
  return YAML.parseAllDocuments(readFileSync(path, 'utf8')).map((doc) => {
    expect(doc.errors, `${path}: ${doc.errors.map((e) => e.message).join('; ')}`).to.deep.equal([]);
    return obj(doc.toJS());
  });
}

function manifests(example: Example): Obj[] {
  const dir = join(ROOT, 'deploy', 'kubernetes', example);
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(dir, f));
  return [...files, join(ROOT, 'deploy', 'kubernetes', 'secret.yaml')].flatMap(parseManifests);
}

/** The workload of an example, its pod spec, and the tunmesh container (a container, or a native sidecar init container). */
function sidecar(example: Example): { container: Obj; pod: Obj; workload: Obj } {
  const workload = manifests(example).find((m) => m.kind === 'StatefulSet' || m.kind === 'Deployment');
  expect(workload, `a StatefulSet or Deployment in deploy/kubernetes/${example}`).to.not.equal(undefined);
  const pod = obj(obj(obj(workload).spec).template);
  const spec = obj(pod.spec);
  const containers = [...list(spec.containers), ...list(spec.initContainers)].map(obj);
  const container = containers.find((c) => c.image === 'tunmesh:latest');
  expect(container, 'a container with image tunmesh:latest').to.not.equal(undefined);
  return { container: obj(container), pod: spec, workload: obj(workload) };
}

/** The example's mounted config as its sidecar loads it, with the pod's downward-API values filled in. */
function sidecarConfig(example: Example): { config: TunmeshConfig; container: Obj } {
  const configMap = manifests(example).find((m) => m.kind === 'ConfigMap');
  const text = String(obj(obj(configMap).data)['config.yaml']);
  const { container } = sidecar(example);
  const env: NodeJS.ProcessEnv = { TUNMESH_AUTH_SECRET: 'a-test-secret-that-is-long-enough-0123456789' };
  if (example === 'statefulset') env.TUNMESH_NODE_ADDRESS_CIDR = '198.19.1.11/24'; // the shell in its command derives it
  for (const e of list(container.env).map(obj)) {
    if (typeof e.value === 'string' && String(e.name).startsWith('TUNMESH_')) {
      env[String(e.name)] = e.value.replace(/\$\(POD_NAME\)/g, 'app-1').replace(/\$\(POD_NAMESPACE\)/g, 'default').replace(/\$\(POD_IP\)/g, '198.18.2.3');
    }
  }
  return { config: configFromObject(YAML.parse(text), env, { checkFiles: false }), container };
}

describe('docs and deploy examples', () => {
  it('docs/operations.md holds exactly the generated config reference', () => {
    const doc = read('docs/operations.md');
    const start = doc.indexOf(REFERENCE_START);
    const end = doc.indexOf(REFERENCE_END);
    expect(start, 'start marker').to.be.greaterThan(-1);
    expect(end, 'end marker').to.be.greaterThan(start);
    const inside = doc.slice(start + REFERENCE_START.length, end);
    expect(inside, 'regenerate: npx tsx src/cli/config-reference.ts --write docs/operations.md').to.equal(`\n${configReferenceMarkdown()}`);
  });

  it('the config reference names every schema key and env var', () => {
    const reference = configReferenceMarkdown();
    for (const name of schemaEnvVars()) expect(reference).to.contain(`\`${name}\``);
    for (const key of ['`auth/secret`', '`legacy_pkcs1_interop`', '`session_overlap`', '`status_socket`', '`uid`']) {
      expect(reference).to.contain(key);
    }
  });

  it('alerts and the dashboard only use metric names that src/ registers', () => {
    const source = metricSource();
    const used = [
      ...metricNamesIn(read('deploy/prometheus/alerts.yml')),
      ...metricNamesIn(read('deploy/grafana/tunmesh-dashboard.json')),
    ];
    expect(used.length).to.be.greaterThan(5);
    for (const name of used) expect(source, `metric ${name} is not registered in src/`).to.contain(`'${name}'`);
  });

  it('every metric named in docs/operations.md is registered in src/', () => {
    const source = metricSource();
    const named = metricNamesIn(read('docs/operations.md')).filter((n) => n !== 'tunmesh_main_');
    for (const name of named) expect(source, `metric ${name}`).to.contain(`'${name}'`);
  });

  it('the alert rules parse and cover the expected conditions', () => {
    const rules = list(obj(list(obj(YAML.parse(read('deploy/prometheus/alerts.yml'))).groups)[0]).rules).map(obj);
    const names = rules.map((r) => r.alert);
    for (const alert of ['TunmeshNodeDown', 'TunmeshNoPeers', 'TunmeshAuthFailures', 'TunmeshSessionFailures',
      'TunmeshDropsHigh', 'TunmeshCertificateExpiringSoon', 'TunmeshChannelReconnectStorm']) {
      expect(names).to.include(alert);
    }
    for (const rule of rules) expect(rule.expr, String(rule.alert)).to.be.a('string');
  });

  it('promtool accepts the alert rules and the example Prometheus config', function () {
    const which = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
    if (which.error !== undefined) {
      console.log('      promtool not on PATH, skipped (apt-get install -y prometheus; CI installs it)');
      this.skip();
    }
    execFileSync('promtool', ['check', 'rules', join(ROOT, 'deploy/prometheus/alerts.yml')], { encoding: 'utf8' });
    execFileSync('promtool', ['check', 'config', join(ROOT, 'deploy/prometheus/prometheus.yml')], { encoding: 'utf8' });
  });

  it('the Grafana dashboard is a dashboard JSON with queries on every panel', () => {
    const dash = obj(JSON.parse(read('deploy/grafana/tunmesh-dashboard.json')));
    expect(dash.title).to.be.a('string');
    expect(dash.uid).to.be.a('string');
    expect(dash.schemaVersion).to.be.a('number');
    const panels = list(dash.panels).map(obj);
    expect(panels.length).to.be.greaterThan(5);
    const ids = new Set<unknown>();
    for (const panel of panels) {
      expect(panel.type, String(panel.title)).to.be.a('string');
      expect(obj(panel.gridPos).w, String(panel.title)).to.be.a('number');
      ids.add(panel.id);
      const targets = list(panel.targets).map(obj);
      expect(targets.length, String(panel.title)).to.be.greaterThan(0);
      for (const t of targets) expect(t.expr, String(panel.title)).to.be.a('string').and.not.equal('');
    }
    expect(ids.size, 'unique panel ids').to.equal(panels.length);
  });

  for (const example of EXAMPLES) {
    describe(`the Kubernetes ${example} example`, () => {
      it('has NET_ADMIN, /dev/net/tun and HTTPS probes on /health/live and /health/ready', () => {
        const { container, pod } = sidecar(example);
        const security = obj(container.securityContext);
        expect(list(obj(security.capabilities).add)).to.include('NET_ADMIN');
        expect(obj(container.livenessProbe).httpGet).to.deep.include({ path: '/health/live', scheme: 'HTTPS' });
        expect(obj(container.readinessProbe).httpGet).to.deep.include({ path: '/health/ready', scheme: 'HTTPS' });
        const tun = list(pod.volumes).map(obj).find((v) => obj(v.hostPath).path === '/dev/net/tun');
        expect(obj(obj(tun).hostPath).type).to.equal('CharDevice');
        const mounts = list(container.volumeMounts).map(obj);
        expect(mounts.some((m) => m.mountPath === '/dev/net/tun' && m.name === obj(tun).name)).to.equal(true);
      });

      it('sets only env vars tunmesh reads, and takes the cluster secret from a Secret', () => {
        const { container } = sidecar(example);
        const known = schemaEnvVars();
        known.add('TUNMESH_CONFIG_PATH');
        const env = list(container.env).map(obj);
        for (const e of env) {
          const name = String(e.name);
          if (name.startsWith('TUNMESH_')) expect(known.has(name), `${name} is not read by tunmesh`).to.equal(true);
        }
        const secret = env.find((e) => e.name === 'TUNMESH_AUTH_SECRET');
        expect(obj(obj(secret).valueFrom).secretKeyRef, 'TUNMESH_AUTH_SECRET from a secretKeyRef').to.not.equal(undefined);
        const secrets = manifests(example).filter((m) => m.kind === 'Secret').map((m) => obj(m.metadata).name);
        expect(secrets).to.include(obj(obj(obj(secret).valueFrom).secretKeyRef).name);
      });

      it('its ports, probes and Service agree with the config the sidecar loads', () => {
        const { config, container } = sidecarConfig(example);
        const ports = new Map(list(container.ports).map(obj).map((p) => [String(p.name), p.containerPort]));
        expect(ports.get('tunmesh-api')).to.equal(config.controlApi.listenPort);
        expect(ports.get('tunmesh-chan')).to.equal(config.dataPlane.channelPort);
        for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe']) {
          expect(ports.get(String(obj(obj(container[probe]).httpGet).port)), probe).to.equal(config.controlApi.listenPort);
        }
        const service = obj(manifests(example).find((m) => m.kind === 'Service'));
        const spec = obj(service.spec);
        expect([spec.clusterIP, spec.publishNotReadyAddresses], 'a headless Service publishing not-ready pods').to.deep.equal(['None', true]);
        for (const p of list(spec.ports).map(obj)) expect(ports.has(String(p.targetPort)), `Service port ${String(p.name)}`).to.equal(true);
        const api = list(spec.ports).map(obj).find((p) => p.targetPort === 'tunmesh-api');
        expect(obj(api).port).to.equal(config.controlApi.listenPort);
        const { workload } = sidecar(example);
        const labels = obj(obj(obj(obj(workload.spec).template).metadata).labels);
        for (const [k, v] of Object.entries(obj(spec.selector))) expect(labels[k], `Service selector ${k}`).to.equal(v);
      });
    });
  }

  it("the StatefulSet's config loads with the sidecar's env, as pod app-1 would see it", () => {
    const { config } = sidecarConfig('statefulset');
    expect(config.clustering.controlApiAdvertiseUrl).to.equal('https://app-1.app-mesh.default.svc.cluster.local:4567');
    const group = config.clustering.bootstrapGroups['default'];
    expect(group?.bootstrapRetries).to.equal(-1);
    expect(group?.bootstrapNodeUrls).to.include(config.clustering.controlApiAdvertiseUrl);
    expect(config.monitoring.method).to.equal('prometheus');
  });

  it("the Deployment's one config needs nothing per pod: its address allocated, its peers from the Service's name", () => {
    const { config } = sidecarConfig('deployment');
    expect(config.clustering.controlApiAdvertiseUrl).to.equal('https://198.18.2.3:4567');
    expect(config.networking.ipv4.allocationSeed, 'allocate').to.not.equal(null);
    expect(cidrContains(config.networking.ipv4.networkCidr, config.networking.ipv4.nodeAddressCidr.split('/')[0]!)).to.equal(true);
    const service = obj(manifests('deployment').find((m) => m.kind === 'Service'));
    const urls = config.clustering.bootstrapGroups['default']?.bootstrapNodeUrls ?? [];
    expect(urls).to.deep.equal([`https://${String(obj(service.metadata).name)}.default.svc.cluster.local:${config.controlApi.listenPort}`]);
    expect(namedHost(urls[0]!), 'a DNS name, resolved at every attempt').to.not.equal(null);
  });

  it('the Deployment runs tunmesh as a native sidecar, with a PodDisruptionBudget over its pods', () => {
    const { pod, workload } = sidecar('deployment');
    const init = list(pod.initContainers).map(obj).find((c) => c.image === 'tunmesh:latest');
    expect(obj(init).restartPolicy).to.equal('Always');
    const pdb = obj(manifests('deployment').find((m) => m.kind === 'PodDisruptionBudget'));
    expect(obj(pdb.spec).maxUnavailable).to.equal(1);
    const labels = obj(obj(obj(obj(workload.spec).template).metadata).labels);
    for (const [k, v] of Object.entries(obj(obj(obj(pdb.spec).selector).matchLabels))) expect(labels[k]).to.equal(v);
  });

  it('the Dockerfile is multi-stage, health-checks /health/live and runs dist/cli/main.js', () => {
    const dockerfile = read('Dockerfile');
    expect(dockerfile).to.match(/^FROM node:20-bookworm AS build$/m);
    expect(dockerfile).to.match(/^FROM node:20-bookworm-slim AS runtime$/m);
    expect(dockerfile).to.match(/^HEALTHCHECK .*\n.*\/health\/live/m);
    expect(dockerfile).to.contain(`ENTRYPOINT ${JSON.stringify(['node', ...MAIN_NODE_FLAGS, 'dist/cli/main.js']).replaceAll(',', ', ')}`);
    expect(dockerfile).to.contain('CMD ["run"]');
  });

  it('the product builds without the harness (lab, bench, demo), which stays out of the image', function () {
    this.timeout(120_000);
    const out = mkdtempSync(join(tmpdir(), 'tunmesh-product-'));
    try {
      execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json', '--outDir', out], { stdio: 'pipe' });
      expect(existsSync(join(out, 'cli/main.js'))).to.equal(true);
      expect(existsSync(join(out, 'firewall/keeper.js'))).to.equal(true);
      for (const harness of ['lab', 'bench', 'demo']) expect(existsSync(join(out, harness)), `${harness}/ compiled into the product`).to.equal(false);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
    expect(read('Dockerfile')).to.contain('npm run build:product').and.contain('test ! -e dist/lab');
  });

  it('the Kubernetes sidecars and the tunmesh bin start the main process with MAIN_NODE_FLAGS', () => {
    for (const example of EXAMPLES) {
      const { container } = sidecar(example);
      const command = [...list(container.command), ...list(container.args)].join(' ');
      expect(command, example).to.contain(`node ${MAIN_NODE_FLAGS.join(' ')} /app/dist/cli/main.js run`);
    }
    expect(read('src/cli/main.ts').split('\n')[0]).to.equal(`#!/usr/bin/env -S node ${MAIN_NODE_FLAGS.join(' ')}`);
  });

  it('security.md and api_flows.md exist, with a sequence diagram per flow', () => {
    expect(read('docs/security.md')).to.contain('legacy_pkcs1_interop');
    const flows = read('docs/api_flows.md');
    const diagrams = flows.match(/```mermaid\nsequenceDiagram/g) ?? [];
    expect(diagrams.length).to.be.greaterThanOrEqual(9);
  });
});
