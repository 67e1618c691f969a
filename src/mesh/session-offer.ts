// Sessions opened by the first registration itself, between tunmesh nodes.
//
// The original needs three requests before two nodes can talk: a registration, then an
// init_session in each direction (the second one on a connection of its own). In a cold start of
// N nodes that is 3 N^2 / 2 requests and N^2 TLS handshakes on CPUs that are already the limit
// (bench/README.md, "Scale"). Between tunmesh nodes the first registration does all of it:
//
//   1. ask:    the asker's cluster-signed registration carries its RSA public key in the token's
//              `tunmesh` claim (`session_key`), under the token's HMAC like every capability;
//   2. offer:  the answerer draws both directions' keys at once (the asker's outbound key, that
//              it will verify, and its own outbound key toward the asker), stores them, and sends
//              both secrets in one RSA-OAEP block wrapped under that public key, in its signed
//              answer's claim (`sessions`);
//   3. accept: the asker unwraps the block and stores both keys. No init_session, no second
//              connection; either side rotates later with the original's init_session.
//
// Each key is still known to exactly the two nodes, travels only RSA-OAEP wrapped, and arrives in
// an answer signed with the cluster key for this asker over these bytes: what an init_session
// answer gives, twice. An original ignores the ask (it ignores claims it does not know) and never
// offers; an older tunmesh node ignores it too. Either way the asker opens its session with
// init_session as before (docs/api_flows.md).
import { CAPABILITY_CLAIM } from './capabilities.js';
import { SESSION_SECRET_BYTES } from '../auth/keys.js';

/** The claim key of the ask: the asker's public key (base64 DER, as init_session carries it). */
const ASK_KEY = 'session_key';
/** The claim key of the offer. */
const OFFER_KEY = 'sessions';

/** Both secrets, one after the other, in one wrapped block (190 bytes fit OAEP-SHA256 at 2048 bits). */
export const OFFERED_SECRET_BYTES = 2 * SESSION_SECRET_BYTES;

/** What the answerer sends: the two key ids and their secrets wrapped together. */
export interface SessionOffer {
  /** The id of the asker's outbound key toward the answerer (the first 64 bytes). */
  asker: string;
  /** The id of the answerer's outbound key toward the asker (the last 64 bytes). */
  answerer: string;
  /** base64 of RSA-OAEP(SHA-256) over the 128 bytes. */
  secret: string;
}

/** The longest public key an ask may carry (a 16384-bit key is ~2.8 KB of base64 DER). */
const MAX_ASK_CHARS = 4096;
/** A wrapped block is one RSA modulus: at most 16384 bits, ~2.8 KB of base64. */
const MAX_WRAPPED_CHARS = 4096;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The token claims of a request that asks for the sessions: our claims plus the public key. */
export function withAsk(claims: Readonly<Record<string, unknown>>, publicKeyDerB64: string): Record<string, unknown> {
  return withinClaim(claims, { [ASK_KEY]: publicKeyDerB64 });
}

/** The token claims of an answer that offers them. */
export function withOffer(claims: Readonly<Record<string, unknown>>, offer: SessionOffer): Record<string, unknown> {
  return withinClaim(claims, { [OFFER_KEY]: { asker: offer.asker, answerer: offer.answerer, secret: offer.secret } });
}

/** The public key a verified request's claims ask with; undefined when it does not ask. */
export function askOf(extraClaims: Readonly<Record<string, unknown>>): string | undefined {
  const v = claimOf(extraClaims)?.[ASK_KEY];
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_ASK_CHARS ? v : undefined;
}

/** The offer in a verified answer's claims; undefined when absent or malformed (then init_session). */
export function offerOf(extraClaims: Readonly<Record<string, unknown>>): SessionOffer | undefined {
  const raw = claimOf(extraClaims)?.[OFFER_KEY];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const { asker, answerer, secret } = raw as Record<string, unknown>;
  if (typeof asker !== 'string' || !UUID.test(asker) || typeof answerer !== 'string' || !UUID.test(answerer) || asker === answerer) return undefined;
  if (typeof secret !== 'string' || secret.length === 0 || secret.length > MAX_WRAPPED_CHARS) return undefined;
  return { asker, answerer, secret };
}

function claimOf(extraClaims: Readonly<Record<string, unknown>>): Record<string, unknown> | undefined {
  const raw = extraClaims[CAPABILITY_CLAIM];
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : undefined;
}

function withinClaim(claims: Readonly<Record<string, unknown>>, extra: Record<string, unknown>): Record<string, unknown> {
  return { ...claims, [CAPABILITY_CLAIM]: { ...claimOf(claims), ...extra } };
}
