/**
 * The one error type of the auth library.
 *
 * Every refusal carries a machine-readable `reason` from a closed union, so the HTTP layer can
 * count refusals by reason and answer 401 without parsing messages, while the message says what
 * went wrong for the log. Nothing else escapes `verifyToken`: callers can rely on
 * `err instanceof AuthError` to tell "the peer sent something bad" from a bug of ours.
 */

export type AuthErrorReason =
  | 'missing_header'
  | 'malformed_header'
  | 'bad_algorithm'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_audience'
  | 'unknown_key'
  | 'body_mismatch'
  | 'replayed'
  | 'malformed_token'
  | 'wrong_issuer'
  /** An RSA key or wrapped secret could not be used (bad DER, too small, failed decryption). */
  | 'bad_key'
  /** A node that proved it is tunmesh (capability claim) later signed without the claim. */
  | 'downgrade'
  /** The issuer is on the deny list (tunmesh.security.deny_file). */
  | 'denied';

export class AuthError extends Error {
  override readonly name = 'AuthError';

  constructor(
    readonly reason: AuthErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${reason}: ${message}`, options);
  }
}
