// What a tunmesh node offers other tunmesh nodes, and how it tells them without an original
// node ever seeing it.
//
// The carrier is a private claim, `tunmesh`, inside every token a tunmesh node signs (requests,
// signed answers, data-plane tokens). Why there:
//   - the original's structs (Registration, NodeInfo, ...) refuse unknown fields with a 500, but
//     its token verifier ignores claims it does not know: an original never receives a field it
//     refuses;
//   - the claim sits under the token's HMAC (cluster or session key): a party without the key
//     cannot strip it to talk two tunmesh nodes down to PKCS#1 v1.5 or the JSON path; a stripped
//     or edited token fails its MAC;
//   - a node that once signed with the claim is tunmesh for its whole life (ids are per process),
//     so a later token from it without the claim is refused as a downgrade (registry.ts).
// No claim means an original node.
import { AuthError } from '../auth/errors.js';
import type { WrapScheme } from '../auth/rsa.js';

/** The claim's name in the token payload. */
export const CAPABILITY_CLAIM = 'tunmesh';

export const OAEP: WrapScheme = 'oaep-sha256';
export const LEGACY: WrapScheme = 'pkcs1';

/** Fast-path protocol version this build speaks. */
export const FAST_PATH_VERSION = 1;
/**
 * Offload version this build speaks: the fast path also accepts v2 frames (a virtio_net_hdr and a
 * GSO super-packet of up to 64 KB, dataplane/frames.ts), written to a TUN with offloads. Announced
 * as `offload: 1` beside `fast_path: 1`, which keeps its meaning for older tunmesh nodes.
 */
export const OFFLOAD_VERSION = 1;

export interface Capabilities {
  /** Fast-path protocol version accepted on the TLS port (0: none). */
  fastPath: number;
  /** Key-wrap schemes this node can unwrap, best first. */
  wrap: WrapScheme[];
  /** Offload version accepted on the fast path (absent: none; v1 frames only). */
  offload?: number;
}

/** What this node announces, given whether its fast path is on and its TUN has offloads. */
export function localCapabilities(fastPath: boolean, offload = false): Capabilities {
  const c: Capabilities = { fastPath: fastPath ? FAST_PATH_VERSION : 0, wrap: [OAEP] };
  if (fastPath && offload) c.offload = OFFLOAD_VERSION;
  return c;
}

/** The extra claims every token of this node carries. */
export function capabilityClaims(c: Capabilities): Record<string, unknown> {
  return { [CAPABILITY_CLAIM]: { fast_path: c.fastPath, wrap: c.wrap, ...(c.offload !== undefined ? { offload: c.offload } : {}) } };
}

const MAX_WRAP_SCHEMES = 8;

/**
 * The capabilities in a verified token's extra claims; null when the claim is absent (an original
 * node). Unknown keys inside it are ignored, so later versions can announce more; a claim that is
 * not an object was signed by a key holder and is refused rather than guessed at.
 */
export function capabilitiesOf(extraClaims: Readonly<Record<string, unknown>>): Capabilities | null {
  const raw = extraClaims[CAPABILITY_CLAIM];
  if (raw === undefined) return null;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new AuthError('malformed_token', `claim ${CAPABILITY_CLAIM} is not an object`);
  }
  const o = raw as Record<string, unknown>;
  const fastPath = typeof o.fast_path === 'number' && Number.isInteger(o.fast_path) && o.fast_path > 0 ? o.fast_path : 0;
  const wrap = Array.isArray(o.wrap) ? o.wrap.slice(0, MAX_WRAP_SCHEMES).filter(isWrapScheme) : [];
  const c: Capabilities = { fastPath, wrap };
  if (typeof o.offload === 'number' && Number.isInteger(o.offload) && o.offload > 0) c.offload = o.offload;
  return c;
}

function isWrapScheme(v: unknown): v is WrapScheme {
  return v === OAEP || v === LEGACY;
}

/**
 * The wrap scheme toward a peer: OAEP when its signed claim offers it; PKCS#1 v1.5 only for an
 * original node (no claim) and only with legacy interop on. `undefined`: no scheme is allowed.
 */
export function wrapSchemeFor(peer: Capabilities | null, legacyInterop: boolean): WrapScheme | undefined {
  if (peer !== null) return peer.wrap.includes(OAEP) ? OAEP : undefined;
  return legacyInterop ? LEGACY : undefined;
}

/** The fast path is used when both ends offer the version we speak. */
export function fastPathWith(peer: Capabilities | null, ourFastPath: boolean): boolean {
  return ourFastPath && peer !== null && peer.fastPath === FAST_PATH_VERSION;
}

/** Offload frames (v2) on the fast path when both ends offer the offload version we speak. */
export function offloadWith(peer: Capabilities | null, ourOffload: boolean): boolean {
  return ourOffload && peer !== null && peer.fastPath === FAST_PATH_VERSION && peer.offload === OFFLOAD_VERSION;
}
