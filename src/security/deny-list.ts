// The deny list (tunmesh.security.deny_file): node ids and certificate SHA-256 fingerprints that
// are refused everywhere (registration, init_session, packet routes, the fast-path upgrade) and
// groomed from the registry. The file is YAML (JSON is YAML too):
//
//   node_ids: [ "3f2a...", ... ]
//   cert_fingerprints: [ "ab12...64 hex", "AB:12:..." ]     # colons and case do not matter
//
// A file that does not parse is refused whole: the list in use stays (a half-read list must not
// un-deny anyone).
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { normalizeFingerprint } from './client-cert.js';
import { errorMessage } from '../log/error-message.js';

class DenyFileError extends Error {
  override readonly name = 'DenyFileError';
}

export interface DenyEntries {
  nodeIds: string[];
  fingerprints: string[];
}

export class DenyList {
  private ids = new Set<string>();
  private fingerprints = new Set<string>();

  deniesId(id: string): boolean {
    return this.ids.has(id);
  }

  deniesFingerprint(fingerprint: string): boolean {
    return this.fingerprints.size > 0 && this.fingerprints.has(normalizeFingerprint(fingerprint));
  }

  /** Takes a new list; true when it differs from the one in use. */
  replace(entries: DenyEntries): boolean {
    const ids = new Set(entries.nodeIds);
    const fingerprints = new Set(entries.fingerprints);
    const same = sameSet(ids, this.ids) && sameSet(fingerprints, this.fingerprints);
    this.ids = ids;
    this.fingerprints = fingerprints;
    return !same;
  }

  get size(): { nodeIds: number; fingerprints: number } {
    return { nodeIds: this.ids.size, fingerprints: this.fingerprints.size };
  }
}

export function readDenyFile(path: string): DenyEntries {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new DenyFileError(`cannot read deny file ${path}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
  try {
    return parseDenyList(text);
  } catch (err) {
    throw new DenyFileError(`deny file ${path}: ${errorMessage(err)}`);
  }
}

export function parseDenyList(text: string): DenyEntries {
  const doc: unknown = parse(text);
  if (doc === null || doc === undefined) return { nodeIds: [], fingerprints: [] };
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new Error('must be a mapping with node_ids and cert_fingerprints');
  const record = doc as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (key !== 'node_ids' && key !== 'cert_fingerprints') throw new Error(`unknown key ${key} (allowed: node_ids, cert_fingerprints)`);
  }
  const nodeIds = stringList(record.node_ids, 'node_ids');
  const fingerprints = stringList(record.cert_fingerprints, 'cert_fingerprints').map((fp) => {
    const hex = normalizeFingerprint(fp);
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`cert_fingerprints: ${JSON.stringify(fp)} is not a SHA-256 fingerprint (64 hex digits)`);
    return hex;
  });
  return { nodeIds, fingerprints };
}

function stringList(value: unknown, key: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) throw new Error(`${key} must be a list of non-empty strings`);
  return value as string[];
}

function sameSet(a: Set<string>, b: Set<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}
