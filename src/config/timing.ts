/**
 * Timing values, in the original's syntax.
 *
 * A timing is a number of seconds (`5`, `0.1`), a string with an optional unit suffix s/m/h/d (`"5m"`),
 * or a range `"10..20s"` whose value is drawn at random once, when the config is loaded. The random
 * draw spreads periodic work (re-registration, rotation) across a cluster that was started at once.
 * The unit suffix applies to both ends of a range, as in the original (`"10..20s"`, not `"10s..20s"`).
 */

/** Seconds per unit suffix. */
const UNIT_SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Bounds every timing key gets unless its schema entry says otherwise (the original's defaults). */
export const DEFAULT_TIMING_BOUNDS: TimingBounds = { min: 0.5, max: 3600 };

export interface TimingBounds {
  readonly min: number;
  readonly max: number;
}

/** A parsed timing: a fixed value has low === high. */
export interface TimingSpec {
  readonly low: number;
  readonly high: number;
}

/** The value is not a timing at all, or lies outside its bounds. */
export class TimingError extends Error {
  override readonly name = 'TimingError';
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

function parseSeconds(text: string, scale: number, original: string): number {
  const trimmed = text.trim();
  if (!NUMBER.test(trimmed)) {
    throw new TimingError(`"${original}" is not a timing: expected seconds, "<n>s|m|h|d" or a range "<a>..<b>[s|m|h|d]"`);
  }
  return Number(trimmed) * scale;
}

/** Parses a timing without drawing from a range. Throws TimingError for anything else. */
export function parseTiming(value: unknown): TimingSpec {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TimingError(`${value} is not a finite number of seconds`);
    return { low: value, high: value };
  }
  if (typeof value !== 'string') {
    throw new TimingError(`expected a number of seconds or a string like "5m" or "10..20s", got ${describeType(value)}`);
  }
  const text = value.trim();
  const unit = text.slice(-1).toLowerCase();
  const scale = UNIT_SECONDS[unit];
  const body = scale === undefined ? text : text.slice(0, -1);
  const parts = body.split('..');
  if (parts.length === 1) {
    const seconds = parseSeconds(body, scale ?? 1, value);
    return { low: seconds, high: seconds };
  }
  if (parts.length !== 2) throw new TimingError(`"${value}" is not a timing: a range has exactly one ".."`);
  const low = parseSeconds(parts[0] ?? '', scale ?? 1, value);
  const high = parseSeconds(parts[1] ?? '', scale ?? 1, value);
  if (low > high) throw new TimingError(`range "${value}" is reversed: its low end must not exceed its high end`);
  return { low, high };
}

/** Throws TimingError when any part of the spec lies outside the bounds (both ends of a range are checked). */
export function checkTimingBounds(spec: TimingSpec, bounds: TimingBounds): void {
  if (spec.low < bounds.min || spec.high > bounds.max) {
    const shown = spec.low === spec.high ? `${spec.low} s` : `range ${spec.low}..${spec.high} s`;
    throw new TimingError(`${shown} is outside the allowed ${bounds.min}..${bounds.max} s`);
  }
}

/** Picks the value of a timing: a range is drawn uniformly with `random` (in [0, 1)). */
export function resolveTiming(spec: TimingSpec, random: () => number = Math.random): number {
  if (spec.low === spec.high) return spec.low;
  return spec.low + (spec.high - spec.low) * random();
}

/** Parses, bounds-checks and resolves in one step. */
export function timingSeconds(value: unknown, bounds: TimingBounds = DEFAULT_TIMING_BOUNDS,
  random: () => number = Math.random): number {
  const spec = parseTiming(value);
  checkTimingBounds(spec, bounds);
  return resolveTiming(spec, random);
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return `a ${typeof value}`;
}
