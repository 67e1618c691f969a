// What a real node spends per message on work the simulation does not repeat for every message,
// measured once on the product's own code so the report can turn message counts into CPU:
//   1. the auth header's size (bytes added to every request and answer)
//   2. one token signed and verified (HS256 through jose/WebCrypto, auth/tokens.ts): a
//      registration exchange costs two of each, one per direction
//   3. one `new URL(listen URL).href` (membership.ts compares each remote entry's URL with its
//      own by parsing both; url-memo.ts counts those calls)
import { createIdentity } from '../../mesh/identity.js';
import { randomBytes } from 'node:crypto';
import { clusterKey, sessionKey, SESSION_SECRET_BYTES, type AuthKey } from '../../auth/keys.js';
import { signToken, verifyToken } from '../../auth/tokens.js';
import { formatAuthHeader } from '../../auth/header.js';

const SECRET = 'simulation-cluster-secret-0123456789abcdef';
const EARLY_VALIDITY = 5;
const VALIDITY = 30;

/** A registration's auth header, signed by the real token code (its size is per message). */
export async function authHeaderBytes(listenUrl: string): Promise<number> {
  const identity = createIdentity({ listenUrl, networkCidr: '198.19.0.0/16', nodeAddressCidr: '198.19.0.1/16', fastPath: true });
  const token = await signToken({ key: clusterKey(SECRET), issuer: identity.id, audience: identity.id, body: '{}', earlyValidity: EARLY_VALIDITY, validity: VALIDITY, extraClaims: identity.tokenClaims });
  return `Authorization: ${formatAuthHeader(token)}\r\n`.length;
}

/**
 * Microseconds of CPU (this thread and the thread pool WebCrypto hops to: process.cpuUsage) one
 * token costs, signed and verified with a session key as re-registrations are, for a body of
 * `bodyBytes` (the mean of `rounds`, after one to import the key). CPU, not wall time: on a busy
 * machine the thread-pool hop waits, and waiting is not what a node is short of.
 */
export async function tokenCostUs(listenUrl: string, bodyBytes: number, rounds = 200): Promise<number> {
  const identity = createIdentity({ listenUrl, networkCidr: '198.19.0.0/16', nodeAddressCidr: '198.19.0.1/16', fastPath: true });
  const key = sessionKey('simulated-session', randomBytes(SESSION_SECRET_BYTES));
  const body = 'x'.repeat(Math.max(2, Math.round(bodyBytes)));
  const keys = (): { key: AuthKey } => ({ key });
  const once = async (): Promise<void> => {
    const token = await signToken({ key, issuer: identity.id, audience: identity.id, body, earlyValidity: EARLY_VALIDITY, validity: VALIDITY, extraClaims: identity.tokenClaims });
    await verifyToken(token, { keys, audience: identity.id, body, maxClockSkew: 5 });
  };
  await once();
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < rounds; i++) await once();
  const cpu = process.cpuUsage(cpu0);
  return (cpu.user + cpu.system) / rounds;
}

/** Nanoseconds one `new URL(url).href` takes on this machine (call it before url-memo's memo is in place). */
export function urlParseNs(url: string, rounds = 20_000): number {
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rounds; i++) sink += new URL(url).href.length;
  const ns = Number(process.hrtime.bigint() - t0) / rounds;
  return sink > 0 ? ns : 0;
}
