// Certificate serial numbers: 16 random bytes (RFC 5280 allows 20), positive as DER INTEGERs
// must be, never zero-led, so each certificate is told apart in a denylist or a log.
import { randomBytes } from 'node:crypto';

export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return bytes.toString('hex');
}

/** A notBefore a few minutes in the past: peers whose clocks run a little behind still accept. */
const BACKDATE_MS = 5 * 60_000;

export function validity(days: number, now = Date.now()): { notBefore: Date; notAfter: Date } {
  const start = Math.floor(now / 1000) * 1000;
  return { notBefore: new Date(start - BACKDATE_MS), notAfter: new Date(start + days * 86_400_000) };
}
