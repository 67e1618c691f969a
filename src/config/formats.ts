/**
 * Custom convict formats for the config schema.
 *
 * convict validates each key with its format; our formats throw an Error whose message says what is
 * expected, never the value: the loader appends the value itself so that it can redact sensitive keys.
 * A `null` value reaching a format means a required key was left out (required keys default to null).
 *
 * Formats read optional bounds from the schema entry (`min`, `max`, `minLength`), so one format serves
 * every key of its kind.
 */
import convict from 'convict';
import { isIP } from 'node:net';
import { tryParseIpv4Cidr } from '../tun/ipv4.js';
import { ipv6FromString, tryParseIpv6Cidr } from '../tun/ipv6.js';
import { checkTimingBounds, DEFAULT_TIMING_BOUNDS, parseTiming, TimingError } from './timing.js';

/** Extra fields our schema entries may carry for the formats below. */
interface BoundedEntry {
  min?: number;
  max?: number;
  minLength?: number;
}

/** Message used for a required key that is missing or null. */
const REQUIRED = 'is required';

function entryBounds(entry: unknown): BoundedEntry {
  return typeof entry === 'object' && entry !== null ? (entry as BoundedEntry) : {};
}

function requirePresent(value: unknown, expected: string): void {
  if (value === null || value === undefined) throw new Error(`${REQUIRED} (${expected})`);
}

function validateTiming(value: unknown, entry: unknown): void {
  const { min = DEFAULT_TIMING_BOUNDS.min, max = DEFAULT_TIMING_BOUNDS.max } = entryBounds(entry);
  const expected = `must be a timing within ${min}..${max} s: seconds, "<n>s|m|h|d" or a range "<a>..<b>[s|m|h|d]"`;
  requirePresent(value, expected);
  let spec;
  try {
    spec = parseTiming(value);
  } catch (err) {
    if (err instanceof TimingError) throw new Error(expected, { cause: err });
    throw err;
  }
  checkTimingBounds(spec, { min, max });
}

function validateCidr(value: unknown): void {
  requirePresent(value, 'an IPv4 CIDR like 198.19.1.0/24');
  if (typeof value !== 'string' || tryParseIpv4Cidr(value) === null) {
    throw new Error('must be an IPv4 CIDR like 198.19.1.0/24');
  }
}

/** Optional (null or empty: IPv4 only); the message says which part is wrong, a bad prefix by name. */
function validateIpv6Cidr(value: unknown): void {
  if (value === null || value === '') return;
  const expected = 'must be an IPv6 CIDR like 2001:2:0:1::1/64 (address/prefix, prefix /0 to /128), or null';
  if (typeof value !== 'string') throw new Error(expected);
  if (tryParseIpv6Cidr(value) !== null) return;
  const slash = value.indexOf('/');
  if (slash < 0) throw new Error(`${expected}: the /prefix is missing`);
  if (!isIpv6(value.slice(0, slash))) throw new Error(`${expected}: ${JSON.stringify(value.slice(0, slash))} is not an IPv6 address`);
  throw new Error(`${expected}: bad prefix length /${value.slice(slash + 1)}`);
}

function isIpv6(text: string): boolean {
  try {
    ipv6FromString(text);
    return true;
  } catch {
    return false;
  }
}

function validateListenAddress(value: unknown): void {
  if (value === '') return;
  if (typeof value !== 'string' || isIP(value) === 0) {
    throw new Error('must be an IP address (IPv4 like 198.18.1.1 or IPv6 like 2001:2::1, no brackets), or empty for every address');
  }
}

/** True for an absolute https URL with a host. Peers only ever speak HTTPS to each other. */
export function isHttpsUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && url.hostname !== '';
  } catch {
    return false;
  }
}

function validateUrl(value: unknown): void {
  requirePresent(value, 'an https URL like https://198.18.1.1:4567');
  if (!isHttpsUrl(value)) throw new Error('must be an https URL like https://198.18.1.1:4567 (peers only speak HTTPS)');
}

/** A bounded number of one kind (`fits`); without bounds on the entry, `lowest`..`highest`. */
function rangeValidator(kind: string, fits: (n: number) => boolean, lowest: number, highest: number): (value: unknown, entry: unknown) => void {
  return (value, entry) => {
    const { min = lowest, max = highest } = entryBounds(entry);
    requirePresent(value, `${kind} in ${min}..${max}`);
    if (typeof value !== 'number' || !fits(value) || value < min || value > max) throw new Error(`must be ${kind} in ${min}..${max}`);
  };
}

/** Decimal strings (from the environment) to numbers; the rest is left to fail validation. */
function coerceNumber(value: string): number | string {
  const trimmed = value.trim();
  return /^[+-]?(\d+(\.\d*)?|\.\d+)$/.test(trimmed) ? Number(trimmed) : value;
}

/** Environment variables arrive as strings: turn whole-integer strings into numbers, leave the rest to fail. */
function coerceInt(value: string): number | string {
  const trimmed = value.trim();
  return /^[+-]?(\d+|0x[0-9a-f]+)$/i.test(trimmed) ? Number(trimmed) : value;
}

function validateNonEmptyString(value: unknown, entry: unknown): void {
  const { minLength = 1 } = entryBounds(entry);
  requirePresent(value, `a string of at least ${minLength} characters`);
  if (typeof value !== 'string' || value.length < minLength) {
    throw new Error(`must be a string of at least ${minLength} characters`);
  }
}

function validateOptionalPath(value: unknown): void {
  if (value !== null && (typeof value !== 'string' || value === '')) throw new Error('must be a file path or null');
}

function validateStringOrEmpty(value: unknown): void {
  if (typeof value !== 'string') throw new Error('must be a path, or an empty string to disable');
}

/** Extra cluster secrets: a list of strings as long as the secret itself must be. */
function validateSecretList(value: unknown, entry: unknown): void {
  const { minLength = 32 } = entryBounds(entry);
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v.length < minLength)) {
    throw new Error(`must be a list of secrets of at least ${minLength} characters each`);
  }
}

/** From the environment: a comma-separated list. */
function coerceList(value: string): string[] {
  return value.split(',').map((v) => v.trim()).filter((v) => v.length > 0);
}

/** Firewall rules: null or a list; each rule is checked by config/firewall.ts, by path. */
function validateRuleList(value: unknown): void {
  if (value !== null && !Array.isArray(value)) throw new Error('must be a list of rules, or left out to allow everything');
}

let registered = false;

/** Registers our formats with convict (once per process; convict's format registry is global). */
export function registerConfigFormats(): void {
  if (registered) return;
  convict.addFormat({ name: 'timing', validate: validateTiming });
  convict.addFormat({ name: 'cidr', validate: validateCidr });
  convict.addFormat({ name: 'url', validate: validateUrl });
  convict.addFormat({ name: 'ipv6_cidr', validate: validateIpv6Cidr });
  convict.addFormat({ name: 'listen_address', validate: validateListenAddress });
  convict.addFormat({ name: 'int_range', validate: rangeValidator('an integer', Number.isInteger, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER), coerce: coerceInt });
  convict.addFormat({ name: 'number_range', validate: rangeValidator('a number', Number.isFinite, -Number.MAX_VALUE, Number.MAX_VALUE), coerce: coerceNumber });
  convict.addFormat({ name: 'nonempty_string', validate: validateNonEmptyString });
  convict.addFormat({ name: 'optional_path', validate: validateOptionalPath });
  convict.addFormat({ name: 'path_or_empty', validate: validateStringOrEmpty });
  convict.addFormat({ name: 'secret_list', validate: validateSecretList, coerce: coerceList });
  convict.addFormat({ name: 'rule_list', validate: validateRuleList });
  registered = true;
}
