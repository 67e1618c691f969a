/**
 * The `Authorization` header of the original: `Bearer: <jwt>`, with a colon.
 *
 * The original splits the value on whitespace, wants exactly two parts and the first one,
 * lowercased, to be `bearer:`. We parse the same way, so a plain RFC 6750 `Bearer <jwt>` is
 * refused here exactly as the Ruby nodes refuse it.
 */
import { AuthError } from './errors.js';

const SCHEME = 'Bearer:';

export function formatAuthHeader(token: string): string {
  return `${SCHEME} ${token}`;
}

/** Returns the token of an `Authorization` header value, or throws `AuthError`. */
export function parseAuthHeader(value: string | undefined): string {
  if (value === undefined || value.trim() === '') {
    throw new AuthError('missing_header', 'no Authorization header');
  }
  // Ruby's String#split without arguments: runs of whitespace separate, leading/trailing ignored.
  const parts = value.trim().split(/\s+/);
  if (parts.length !== 2) {
    throw new AuthError('malformed_header', `Authorization header has ${parts.length} parts, expected 2`);
  }
  const [scheme, token] = parts as [string, string];
  if (scheme.toLowerCase() !== SCHEME.toLowerCase()) {
    throw new AuthError('malformed_header', `Authorization scheme must be "${SCHEME}"`);
  }
  return token;
}
