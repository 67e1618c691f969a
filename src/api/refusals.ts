// The one mapping from a refused request to its HTTP answer. Lower layers refuse with typed
// errors and know nothing of HTTP statuses; this module alone decides what a peer sees:
//   - a peer that did not prove who it is (token, certificate): 401, one that did and is
//     refused (deny list, a certificate bound to another URL): 403; the reason is counted
//     (security/refusal.ts classifies them, shared with the fast-path upgrade, which answers on
//     a raw socket below the API);
//   - a token that cannot even be read: 401 `malformed_token`, counted;
//   - membership refusals (mesh/errors.ts): the original's statuses, as text like the original,
//     not counted as authentication failures.
import { MeshError, type MeshErrorKind } from '../mesh/errors.js';
import { refusalOf } from '../security/refusal.js';
import { HttpError } from './errors.js';

/** The original's status for each membership refusal. */
const MESH_STATUS: Record<MeshErrorKind, number> = {
  registration_to_self: 421,
  invalid: 400,
  unknown_sender: 404,
  conflict: 400,
};

type OnFailure = (reason: string) => void;

/** Counts a peer refusal and turns it into the answer; anything that is not one passes through. */
export function refusedError(err: unknown, onFailure: OnFailure): unknown {
  const refusal = refusalOf(err);
  if (refusal === null) return err;
  onFailure(refusal.reason);
  return new HttpError(refusal.status, refusal.status === 403 ? 'Forbidden' : 'Unauthorized', refusal.reason);
}

/** The answer to a token check that failed: a refusal as above, else an unreadable token. */
export function tokenRefusal(err: unknown, onFailure: OnFailure): HttpError {
  const refused = refusedError(err, onFailure);
  if (refused instanceof HttpError) return refused;
  onFailure('malformed_token');
  return new HttpError(401, 'Unauthorized', 'malformed_token');
}

/** Runs a mesh call, mapping its typed refusals to the original's statuses. */
export async function meshCall<T>(fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof MeshError) throw new HttpError(MESH_STATUS[err.kind], err.message, err.kind, 'text');
    throw err;
  }
}

/** Runs a handler whose mesh or security checks may refuse the peer (registration: SAN binding, deny list). */
export async function refusable<T>(fn: () => Promise<T>, onFailure: OnFailure): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw refusedError(err, onFailure);
  }
}
