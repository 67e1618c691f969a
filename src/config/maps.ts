/**
 * The free-keyed maps of the schema, checked entry by entry: convict only knows them as "an object".
 *
 * - `tun_mesh/clustering/bootstrap_groups`: group name -> {bootstrap_node_urls, bootstrap_retries}
 * - `tun_mesh/monitoring/prometheus/base_labels`: Prometheus label name -> string value
 */
import type { ConfigProblem } from './errors.js';
import { isHttpsUrl } from './formats.js';
import { isPlainObject, keyPath, showValue } from './shape.js';
import type { BootstrapGroup } from './types.js';

const GROUPS_PATH = ['tun_mesh', 'clustering', 'bootstrap_groups'];
const LABELS_PATH = ['tun_mesh', 'monitoring', 'prometheus', 'base_labels'];
const GROUP_KEYS = ['bootstrap_node_urls', 'bootstrap_retries'];
/**
 * The original's default (config/clustering/bootstrap_group.rb: `default: -1`): retry forever.
 * Sidecars start in any order; a node that starts before its bootstrap peer must not give up.
 */
const DEFAULT_BOOTSTRAP_RETRIES = -1;
/** Prometheus label names; names starting with __ are reserved. */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function urlList(value: unknown, at: string[], problems: ConfigProblem[]): string[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) {
    problems.push({ path: keyPath(at), message: `must be a list of https URLs or null, got ${showValue(value)}` });
    return [];
  }
  value.forEach((url, i) => {
    if (!isHttpsUrl(url)) problems.push({ path: keyPath([...at, String(i)]), message: `must be an https URL like https://198.18.1.2:4567, got ${showValue(url)}` });
  });
  return value.filter(isHttpsUrl);
}

function retries(value: unknown, at: string[], problems: ConfigProblem[]): number {
  if (value === undefined || value === null) return DEFAULT_BOOTSTRAP_RETRIES;
  if (typeof value === 'number' && Number.isInteger(value) && value >= -1) return value;
  problems.push({ path: keyPath(at), message: `must be an integer >= -1 (-1 forever, 0 one attempt, N retries), got ${showValue(value)}` });
  return DEFAULT_BOOTSTRAP_RETRIES;
}

function bootstrapGroup(name: string, raw: unknown, problems: ConfigProblem[]): BootstrapGroup {
  const at = [...GROUPS_PATH, name];
  if (raw !== null && !isPlainObject(raw)) {
    problems.push({ path: keyPath(at), message: `must be a mapping of ${GROUP_KEYS.join(', ')}, got ${showValue(raw)}` });
    return { bootstrapNodeUrls: [], bootstrapRetries: DEFAULT_BOOTSTRAP_RETRIES };
  }
  const group = raw ?? {};
  for (const key of Object.keys(group)) {
    if (!GROUP_KEYS.includes(key)) problems.push({ path: keyPath([...at, key]), message: `unknown key (allowed here: ${GROUP_KEYS.join(', ')})` });
  }
  return {
    bootstrapNodeUrls: urlList(group['bootstrap_node_urls'], [...at, 'bootstrap_node_urls'], problems),
    bootstrapRetries: retries(group['bootstrap_retries'], [...at, 'bootstrap_retries'], problems),
  };
}

/** Checks and converts bootstrap_groups; `present` says whether the document set the key at all (it is required). */
export function bootstrapGroups(raw: unknown, present: boolean, problems: ConfigProblem[]): Record<string, BootstrapGroup> {
  if (!present || raw === null) {
    problems.push({ path: keyPath(GROUPS_PATH), message: 'is required (a map of group name -> {bootstrap_node_urls, bootstrap_retries}; use {default: {bootstrap_node_urls: []}} for a first node)' });
    return {};
  }
  const groups: Record<string, BootstrapGroup> = {};
  for (const [name, group] of Object.entries(raw as Record<string, unknown>)) groups[name] = bootstrapGroup(name, group, problems);
  return groups;
}

/** Checks and converts base_labels: label names must be valid Prometheus names, values scalars. */
export function baseLabels(raw: unknown, problems: ConfigProblem[]): Record<string, string> {
  const labels: Record<string, string> = {};
  if (raw === null || raw === undefined) return labels;
  for (const [name, value] of Object.entries(raw as Record<string, unknown>)) {
    const at = keyPath([...LABELS_PATH, name]);
    if (!LABEL_NAME.test(name) || name.startsWith('__')) problems.push({ path: at, message: 'is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)' });
    else if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') problems.push({ path: at, message: `must be a string value, got ${showValue(value)}` });
    else labels[name] = String(value);
  }
  return labels;
}
