// The import graph of src/ against a declared layer order (issue 23: "every import runs down").
// A folder owns one concern; it may import its own layer and the layers below, never above, and
// no two folders or files may import each other in a circle. The table is the design, written
// down: a change that needs an upward import changes the design, so it changes this table (with
// its reason) or moves the code, rather than slipping through.
//
// The printable report (layers, imports against them, cycles, line counts):
//   LAYERING_REPORT=graph.txt npx mocha test/unit/layering.test.ts
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  cycles,
  folderCycles,
  folderOf,
  layerOf,
  readImportGraph,
  report,
  upwardImports,
  type ImportEdge,
  type LayerTable,
} from '../helpers/import-graph.js';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

/** Bottom first. */
export const LAYERS: LayerTable = [
  // Leaves everything may use: the version string, logging, and the constants of the protocols
  // on the wire (the original's routes), which both a server and its clients read.
  ['.', 'log', 'protocol'],
  // Vocabularies with no knowledge of a node: the TUN device with its packet and address
  // helpers (only the kernel below it), and tokens, keys and sessions as bytes and claims.
  ['tun', 'auth'],
  // The TUN offloads done in software (segmentation, GRO, checksums): packet bytes, only tun/ below.
  ['offload'],
  // Node identity beyond the cluster secret: TLS policy, material and contexts, certificates'
  // groups, the deny list, refusals. Uses auth's error types for refusals, nothing of a node.
  ['security'],
  // Configuration: YAML into typed settings, checked with the address parsers of tun/ and the
  // group names of security/. Everything that runs a node reads these types, so it sits here.
  ['config'],
  // Consumers of config that serve one command or one kernel table: `tunmesh certs` and the
  // nftables firewall with its keeper.
  ['certs', 'firewall'],
  // The two planes, which never import each other: membership and sessions between nodes, and
  // packets between TUN and peers.
  ['mesh', 'dataplane'],
  // prom-client registries and the scrape that aggregates over the processes: it reads what the
  // layers below count (the data plane's counters beside its code, firewall counters,
  // certificate expiry); nothing below reports into it.
  ['metrics'],
  // Process plumbing for the data plane: forked workers and their supervisor.
  ['workers'],
  // What a running node shows: health, status, views over the planes' parts (handed in by
  // node/, so it knows no phase of it). Below the API, which serves health and status.
  ['status'],
  // The HTTPS API: thin routes over what mesh/, security/ and status/ implement.
  ['api'],
  // The composition root: builds the phases of a node from everything below.
  ['node'],
  // The `tunmesh` command: parses arguments, then calls into node/, config/, certs/.
  ['cli'],
  // The harness (tests, demo, benchmark): namespaces and real nodes; above everything, so the
  // product never imports it.
  ['lab'],
  ['bench', 'demo'],
];

/** The harness: built apart from the product and left out of the image. */
const HARNESS = ['lab', 'bench', 'demo'];

/**
 * Upward imports allowed for now, each with the reason it is not fixed yet. Empty is the goal;
 * an entry here is a known debt, not a second rule.
 */
const ALLOWED_UPWARD: readonly { edge: string; why: string }[] = [];

const edgeName = (e: ImportEdge): string => `${e.from} -> ${e.to}`;

describe('layering: every import runs down', () => {
  const graph = readImportGraph(SRC);

  after(() => {
    const out = process.env.LAYERING_REPORT;
    if (out !== undefined && out !== '') writeFileSync(out, `${report(graph, LAYERS)}\n`);
  });

  it('reads a graph of the whole of src/', () => {
    assert.ok(graph.files.length > 100, `only ${graph.files.length} files under ${SRC}`);
    assert.ok(graph.edges.length > 300);
  });

  it('places every folder in exactly one layer', () => {
    const folders = [...new Set(graph.files.map(folderOf))];
    const unplaced = folders.filter((f) => layerOf(LAYERS, f) < 0);
    assert.deepEqual(unplaced, [], 'folders missing from LAYERS');
    const listed = LAYERS.flat();
    assert.equal(new Set(listed).size, listed.length, 'a folder listed twice');
  });

  it('has no import against the layer order beyond the allow-list', () => {
    const allowed = new Set(ALLOWED_UPWARD.map((a) => a.edge));
    const upward = upwardImports(graph, LAYERS).map(edgeName);
    assert.deepEqual(upward.filter((e) => !allowed.has(e)), []);
    // An allow-list entry that no longer happens is removed, so the list only shrinks.
    assert.deepEqual([...allowed].filter((e) => !upward.includes(e)), [], 'stale ALLOWED_UPWARD entries');
  });

  it('has no import cycle between folders', () => {
    assert.deepEqual(folderCycles(graph), []);
  });

  it('has no import cycle between files', () => {
    assert.deepEqual(cycles(graph.files, graph.edges), []);
  });

  it('keeps the harness out of the product', () => {
    const intoHarness = graph.edges.filter((e) => HARNESS.includes(folderOf(e.to)) && !HARNESS.includes(folderOf(e.from)));
    assert.deepEqual(intoHarness.map(edgeName), []);
  });
});

describe('layering: the checks find what they look for', () => {
  const edges = (pairs: [string, string][]): ImportEdge[] => pairs.map(([from, to]) => ({ from, to }));

  it('finds a cycle through three files and none in a chain', () => {
    assert.deepEqual(cycles(['a', 'b', 'c', 'd'], edges([['a', 'b'], ['b', 'c'], ['c', 'a'], ['c', 'd']])), [['a', 'b', 'c']]);
    assert.deepEqual(cycles(['a', 'b', 'c'], edges([['a', 'b'], ['b', 'c']])), []);
  });

  it('flags an import from a lower layer into a higher one', () => {
    const graph = { files: ['log/x.ts', 'node/y.ts'], edges: edges([['log/x.ts', 'node/y.ts'], ['node/y.ts', 'log/x.ts']]), lines: new Map() };
    assert.deepEqual(upwardImports(graph, LAYERS).map(edgeName), ['log/x.ts -> node/y.ts']);
  });
});
