// The configuration reference in docs/operations.md, generated from the convict schema
// (src/config/schema.ts) so the doc cannot drift from the code: test/unit/docs.test.ts checks
// that the doc holds exactly this text between its config-reference markers.
//
//   regenerate: npx tsx src/cli/config-reference.ts --write docs/operations.md
//   print:      npx tsx src/cli/config-reference.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DEFAULT_TIMING_BOUNDS } from '../config/timing.js';
import { BOOTSTRAP_URLS_ENV, isLeaf, isMapLeaf, schema } from '../config/schema.js';

export const REFERENCE_START = '<!-- config-reference:start -->';
export const REFERENCE_END = '<!-- config-reference:end -->';

interface Entry {
  path: string;
  leaf: Record<string, unknown>;
}

function walk(node: unknown, path: string[], out: Entry[]): void {
  if (isLeaf(node)) {
    out.push({ path: path.join('/'), leaf: node as unknown as Record<string, unknown> });
    return;
  }
  if (typeof node !== 'object' || node === null) return;
  for (const [key, child] of Object.entries(node)) walk(child, [...path, key], out);
}

function bounds(leaf: Record<string, unknown>, fallback?: { min: number; max: number }): string {
  const min = typeof leaf.min === 'number' ? leaf.min : fallback?.min;
  const max = typeof leaf.max === 'number' ? leaf.max : fallback?.max;
  return min === undefined && max === undefined ? '' : ` ${min ?? ''}..${max ?? ''}`;
}

function formatOf(leaf: Record<string, unknown>): string {
  const base = baseFormatOf(leaf);
  return leaf.nullable === true && leaf.format !== 'optional_path' ? `${base} or null` : base;
}

function baseFormatOf(leaf: Record<string, unknown>): string {
  const format = leaf.format;
  if (Array.isArray(format)) return `one of ${format.map((v) => `\`${String(v)}\``).join(', ')}`;
  if (format === Boolean) return 'boolean';
  if (isMapLeaf(leaf as never)) return 'map';
  switch (format) {
    case 'timing':
      return `timing${bounds(leaf, DEFAULT_TIMING_BOUNDS)} s`;
    case 'int_range':
      return `integer${bounds(leaf)}`;
    case 'number_range':
      return `number${bounds(leaf)}`;
    case 'cidr':
      return 'IPv4 CIDR';
    case 'ipv6_cidr':
      return 'IPv6 CIDR';
    case 'listen_address':
      return 'IP address, or empty';
    case 'url':
      return 'https URL';
    case 'nonempty_string':
      return typeof leaf.minLength === 'number' ? `string, ${leaf.minLength}+ chars` : 'string';
    case 'optional_path':
      return 'file path or null';
    case 'path_or_empty':
      return 'path, or empty to disable';
    default:
      return typeof format === 'function' ? 'checked by code (see description)' : String(format);
  }
}

function defaultOf(entry: Entry): string {
  const { leaf } = entry;
  const value = leaf.default;
  if (value === null) return leaf.nullable === true ? '`null`' : '**required**';
  if (leaf.sensitive === true) return '(secret)';
  if (typeof value === 'number' && entry.path.includes('key_range')) {
    return `\`0x${value.toString(16)}\``;
  }
  if (typeof value === 'string') return value === '' ? '`""`' : `\`${value}\``;
  return `\`${JSON.stringify(value)}\``;
}

function envOf(entry: Entry): string {
  if (typeof entry.leaf.env === 'string') return `\`${entry.leaf.env}\``;
  if (entry.path === 'tun_mesh/clustering/bootstrap_groups') return `\`${BOOTSTRAP_URLS_ENV}\` (urls of group \`default\`, comma list)`;
  return '';
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The reference as Markdown: one table per section, every key of the schema, in schema order. */
export function configReferenceMarkdown(): string {
  const entries: Entry[] = [];
  walk(schema, [], entries);
  const sections = new Map<string, Entry[]>();
  for (const entry of entries) {
    const parts = entry.path.split('/');
    const section = parts.slice(0, Math.min(2, parts.length - 1)).join('/');
    const list = sections.get(section) ?? [];
    list.push(entry);
    sections.set(section, list);
  }
  const lines: string[] = [
    '_Generated from `src/config/schema.ts` by `configReferenceMarkdown()` in `src/cli/config-reference.ts`; do not edit by hand._',
    '',
    'Keys are slash paths into the YAML file. `tun_mesh/...` is the original\'s format (config_version 1.1); ' +
      '`tunmesh/...` is a sibling top-level block of tunmesh-only settings that the original never reads. ' +
      `Timings take seconds, \`"5m"\`-style suffixes (s/m/h/d) or a range \`"10..20s"\` drawn once at load; ` +
      `unless a row says otherwise a timing must lie within ${DEFAULT_TIMING_BOUNDS.min}..${DEFAULT_TIMING_BOUNDS.max} s. ` +
      'Environment variables win over the file.',
  ];
  for (const [section, list] of sections) {
    lines.push('', `#### \`${section}\``, '', '| key | default | format | env | description |', '|---|---|---|---|---|');
    for (const entry of list) {
      const key = entry.path.slice(section.length + 1);
      lines.push(`| \`${key}\` | ${defaultOf(entry)} | ${cell(formatOf(entry.leaf))} | ${cell(envOf(entry))} | ${cell(String(entry.leaf.doc ?? ''))} |`);
    }
  }
  return lines.join('\n') + '\n';
}

/** Replaces the text between the markers of `doc` with the current reference. */
function withReference(doc: string): string {
  const start = doc.indexOf(REFERENCE_START);
  const end = doc.indexOf(REFERENCE_END);
  if (start < 0 || end < start) throw new Error(`markers ${REFERENCE_START} ... ${REFERENCE_END} not found`);
  return `${doc.slice(0, start + REFERENCE_START.length)}\n${configReferenceMarkdown()}${doc.slice(end)}`;
}

function main(args: string[]): void {
  if (args[0] === '--write' && args[1]) {
    writeFileSync(args[1], withReference(readFileSync(args[1], 'utf8')));
    return;
  }
  process.stdout.write(configReferenceMarkdown());
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main(process.argv.slice(2));
