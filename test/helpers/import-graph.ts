// The import graph of src/, read from the source text (ts.preProcessFile: every static
// `import`/`export ... from` and `import('...')`, type-only ones included, since a type import
// couples two modules as much as a value import does when one has to be read to understand the
// other). Used by test/unit/layering.test.ts, which also writes the printable report:
//   LAYERING_REPORT=graph.txt npx mocha test/unit/layering.test.ts
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

/** One import edge between two files of src/ (paths relative to src/, with .ts). */
export interface ImportEdge {
  readonly from: string;
  readonly to: string;
}

export interface ImportGraph {
  readonly files: readonly string[];
  readonly edges: readonly ImportEdge[];
  readonly lines: ReadonlyMap<string, number>;
}

/** The folder a file belongs to: its first path segment, or '.' for files at the top of src/. */
export function folderOf(file: string): string {
  const slash = file.indexOf('/');
  return slash < 0 ? '.' : file.slice(0, slash);
}

function listTs(dir: string, root: string, out: string[]): void {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) listTs(path, root, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(relative(root, path));
  }
}

// './x.js' -> 'x.ts', './dir' -> 'dir/index.ts'; null for a package or a file outside src/.
function resolveImport(srcDir: string, fromFile: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const base = resolve(srcDir, dirname(fromFile), spec);
  const candidates = [base.replace(/\.js$/, '.ts'), `${base}.ts`, join(base, 'index.ts')];
  for (const candidate of candidates) {
    if (existsSync(candidate) && statSync(candidate).isFile()) {
      const rel = relative(srcDir, candidate);
      return rel.startsWith('..') ? null : rel;
    }
  }
  throw new Error(`${fromFile}: cannot resolve import '${spec}'`);
}

export function readImportGraph(srcDir: string): ImportGraph {
  const files: string[] = [];
  listTs(srcDir, srcDir, files);
  files.sort();
  const edges: ImportEdge[] = [];
  const lines = new Map<string, number>();
  for (const file of files) {
    const text = readFileSync(join(srcDir, file), 'utf8');
    lines.set(file, text.split('\n').length - (text.endsWith('\n') ? 1 : 0));
    const seen = new Set<string>();
    for (const ref of ts.preProcessFile(text, true, true).importedFiles) {
      const to = resolveImport(srcDir, file, ref.fileName);
      if (to === null || to === file || seen.has(to)) continue;
      seen.add(to);
      edges.push({ from: file, to });
    }
  }
  return { files, edges, lines };
}

/** Strongly connected components with more than one member (Tarjan): the import cycles. */
export function cycles(nodes: readonly string[], edges: readonly ImportEdge[]): string[][] {
  const next = new Map<string, string[]>(nodes.map((n) => [n, []]));
  for (const e of edges) if (e.from !== e.to) next.get(e.from)?.push(e.to);
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  let counter = 0;
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter);
    counter += 1;
    stack.push(node);
    onStack.add(node);
    for (const to of next.get(node) ?? []) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node) ?? 0, low.get(to) ?? 0));
      } else if (onStack.has(to)) {
        low.set(node, Math.min(low.get(node) ?? 0, index.get(to) ?? 0));
      }
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop();
        if (member === undefined) break;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of nodes) if (!index.has(node)) visit(node);
  return found.sort((a, b) => (a[0] ?? '').localeCompare(b[0] ?? ''));
}

/** Edges between folders (one per folder pair), with the file edges that make each one. */
export function folderEdges(graph: ImportGraph): Map<string, ImportEdge[]> {
  const byPair = new Map<string, ImportEdge[]>();
  for (const e of graph.edges) {
    const from = folderOf(e.from);
    const to = folderOf(e.to);
    if (from === to) continue;
    const key = `${from} -> ${to}`;
    const list = byPair.get(key) ?? [];
    list.push(e);
    byPair.set(key, list);
  }
  return byPair;
}

export function folderCycles(graph: ImportGraph): string[][] {
  const folders = [...new Set(graph.files.map(folderOf))].sort();
  const edges = [...folderEdges(graph).keys()].map((key) => {
    const [from = '', to = ''] = key.split(' -> ');
    return { from, to };
  });
  return cycles(folders, edges);
}

/**
 * A layer table: folders listed bottom first; a folder may import only folders in its own layer
 * or in layers below it. Folders in the same layer may import each other (the cycle check still
 * forbids circles between them).
 */
export type LayerTable = readonly (readonly string[])[];

export function layerOf(layers: LayerTable, folder: string): number {
  return layers.findIndex((layer) => layer.includes(folder));
}

/** File edges whose target sits in a higher layer than their source (or in no layer at all). */
export function upwardImports(graph: ImportGraph, layers: LayerTable): ImportEdge[] {
  return graph.edges.filter((e) => {
    const from = layerOf(layers, folderOf(e.from));
    const to = layerOf(layers, folderOf(e.to));
    return from < 0 || to < 0 || to > from;
  });
}

export function report(graph: ImportGraph, layers: LayerTable): string {
  const out: string[] = [];
  const folders = [...new Set(graph.files.map(folderOf))].sort();
  const linesIn = (folder: string): number =>
    graph.files.filter((f) => folderOf(f) === folder).reduce((n, f) => n + (graph.lines.get(f) ?? 0), 0);
  const total = graph.files.reduce((n, f) => n + (graph.lines.get(f) ?? 0), 0);
  out.push(`files ${graph.files.length}, lines ${total}, import edges ${graph.edges.length}`);
  out.push('', 'layers (bottom first; folder: files/lines)');
  layers.forEach((layer, i) => {
    const cells = layer.map((f) => `${f}: ${graph.files.filter((x) => folderOf(x) === f).length}/${linesIn(f)}`);
    out.push(`  ${String(i).padStart(2)}  ${cells.join('   ')}`);
  });
  const unplaced = folders.filter((f) => layerOf(layers, f) < 0);
  if (unplaced.length > 0) out.push(`  not in any layer: ${unplaced.join(', ')}`);
  const upward = upwardImports(graph, layers);
  out.push('', `imports against the layers: ${upward.length}`);
  for (const e of upward) out.push(`  ${e.from} -> ${e.to}`);
  const fc = folderCycles(graph);
  out.push('', `folder cycles: ${fc.length}`);
  for (const c of fc) out.push(`  ${c.join(' <-> ')}`);
  const fileCycles = cycles(graph.files, graph.edges);
  out.push('', `file cycles: ${fileCycles.length}`);
  for (const c of fileCycles) out.push(`  ${c.join(' <-> ')}`);
  out.push('', 'folder imports (count of file edges)');
  for (const [pair, list] of [...folderEdges(graph)].sort((a, b) => a[0].localeCompare(b[0]))) {
    out.push(`  ${pair}  ${list.length}`);
  }
  out.push('', 'largest files');
  const largest = [...graph.files].sort((a, b) => (graph.lines.get(b) ?? 0) - (graph.lines.get(a) ?? 0));
  for (const f of largest.slice(0, 25)) out.push(`  ${String(graph.lines.get(f)).padStart(5)}  ${f}`);
  return out.join('\n');
}
