/**
 * The structural pass, run before convict sees the document.
 *
 * convict validates leaf values well, but it assumes the document already has the schema's shape:
 * a mapping where a single value belongs crashes its merge, and a scalar where a section belongs
 * turns into one "missing" complaint per key below it. So this pass walks the raw YAML against the
 * schema first and reports, at the exact key: unknown keys, mappings where a value belongs, and
 * values where a section belongs. Offending parts are dropped so convict only sees what fits.
 */
import type { ConfigProblem } from './errors.js';
import { isLeaf, isMapLeaf } from './schema.js';

export type PlainObject = Record<string, unknown>;

export function isPlainObject(value: unknown): value is PlainObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Joins key segments into the original's slash notation. */
export function keyPath(segments: readonly string[]): string {
  return segments.join('/');
}

/** Renders a (non-sensitive) value for an error message, kept short. */
export function showValue(value: unknown): string {
  const text = value === undefined ? 'nothing' : JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * Returns a copy of `raw` holding only the parts that fit `section`; records a problem for each
 * part that does not. `null` for a section counts as an empty section (YAML `key:` with nothing under it).
 */
export function fitToSchema(raw: unknown, section: PlainObject, at: readonly string[], problems: ConfigProblem[]): PlainObject {
  if (raw === null || raw === undefined) return {};
  if (!isPlainObject(raw)) {
    problems.push({ path: keyPath(at), message: `must be a mapping of ${describeKeys(section)}, got ${showValue(raw)}` });
    return {};
  }
  const fitted: PlainObject = {};
  for (const [key, value] of Object.entries(raw)) {
    const path = [...at, key];
    const node = Object.prototype.hasOwnProperty.call(section, key) ? section[key] : undefined;
    if (node === undefined) {
      problems.push({ path: keyPath(path), message: `unknown key (allowed here: ${Object.keys(section).join(', ')})` });
    } else if (isLeaf(node)) {
      const fits = isMapLeaf(node) ? value === null || isPlainObject(value) : !isPlainObject(value);
      if (fits) fitted[key] = value;
      else problems.push({ path: keyPath(path), message: isMapLeaf(node) ? `must be a mapping, got ${showValue(value)}` : `must be a single value, not a mapping (${node.doc ?? 'see the example config'})` });
    } else {
      fitted[key] = fitToSchema(value, node as PlainObject, path, problems);
    }
  }
  return fitted;
}

function describeKeys(section: PlainObject): string {
  return Object.keys(section).join(', ');
}
