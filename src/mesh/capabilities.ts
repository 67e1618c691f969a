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
import { ipv6CidrString, tryParseIpv6Cidr, unusableNodeAddressReason } from '../tun/ipv6.js';

/** The claim's name in the token payload. */
export const CAPABILITY_CLAIM = 'tunmesh';

export const OAEP: WrapScheme = 'oaep-sha256';
export const LEGACY: WrapScheme = 'pkcs1';

/** Fast-path protocol version this build speaks. */
const FAST_PATH_VERSION = 1;
/**
 * Offload version this build speaks: the fast path also accepts v2 frames (a virtio_net_hdr and a
 * GSO super-packet of up to 64 KB, dataplane/fast/frames.ts), written to a TUN with offloads. Announced
 * as `offload: 1` beside `fast_path: 1`, which keeps its meaning for older tunmesh nodes.
 */
export const OFFLOAD_VERSION = 1;

export interface Capabilities {
  /** Fast-path protocol version accepted on the TLS port (0: none). */
  fastPath: number;
  /** Key-wrap schemes this node can unwrap, best first. */
  wrap: WrapScheme[];
  /**
   * The node's IPv6 mesh address with its prefix, canonical text ("2001:2:0:1::1/64"); absent
   * when it has none. Only tunmesh peers learn it: the original's structs carry IPv4 only.
   * Claim form: `"ipv6": {"address": "2001:2:0:1::1", "prefix": 64}`.
   */
  ipv6?: string;
  /**
   * The node's TUN MTU (claim key `mtu`): a sender turns an IPv6 packet too big for it into an
   * ICMPv6 Packet Too Big for the local application (packet-too-big.ts). Absent: unknown.
   */
  mtu?: number;
  /** Offload version accepted on the fast path (absent: none; v1 frames only). */
  offload?: number;
  /**
   * The port of the node's channel listener (claim key `channel_port`): fast channels opened
   * there are received by its workers, each writing through its own TUN queue, so a reply
   * leaves from the process that took the request (dataplane/fast/channel-server.ts). Same host as
   * the listen URL, same TLS. Absent: channels go to the API port, received by the main process.
   */
  channelPort?: number;
  /**
   * The node holds an allocated address it is still claiming (claim key `claiming: true`,
   * node/claim.ts): in a conflict it yields to a node that holds the address already.
   */
  claiming?: boolean;
}

/** What this node announces: its fast path, TUN offloads, IPv6 address (CIDR) and MTU (the channel port: identity.ts). */
export function localCapabilities(fastPath: boolean, offload = false, ipv6Cidr?: string | null, mtu?: number): Capabilities {
  const ipv6 = ipv6Cidr ? tryParseIpv6Cidr(ipv6Cidr) : null;
  const c: Capabilities = { fastPath: fastPath ? FAST_PATH_VERSION : 0, wrap: [OAEP], ...(ipv6 ? { ipv6: ipv6CidrString(ipv6) } : {}), ...(mtu ? { mtu } : {}) };
  if (fastPath && offload) c.offload = OFFLOAD_VERSION;
  return c;
}

/** The extra claims every token of this node carries. */
export function capabilityClaims(c: Capabilities): Record<string, unknown> {
  const claim: Record<string, unknown> = { fast_path: c.fastPath, wrap: c.wrap };
  if (c.ipv6 !== undefined) {
    const [address, prefix] = c.ipv6.split('/');
    claim.ipv6 = { address, prefix: Number(prefix) };
  }
  if (c.mtu !== undefined) claim.mtu = c.mtu;
  if (c.offload !== undefined) claim.offload = c.offload;
  if (c.channelPort !== undefined) claim.channel_port = c.channelPort;
  if (c.claiming) claim.claiming = true;
  return { [CAPABILITY_CLAIM]: claim };
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
  const ipv6 = ipv6Of(o.ipv6);
  const mtu = typeof o.mtu === 'number' && Number.isInteger(o.mtu) && o.mtu >= MIN_CLAIMED_MTU && o.mtu <= MAX_CLAIMED_MTU ? o.mtu : undefined;
  const offload = typeof o.offload === 'number' && Number.isInteger(o.offload) && o.offload > 0 ? o.offload : undefined;
  const channelPort = isPort(o.channel_port) ? o.channel_port : undefined;
  return {
    fastPath,
    wrap,
    ...(ipv6 === undefined ? {} : { ipv6 }),
    ...(mtu === undefined ? {} : { mtu }),
    ...(offload === undefined ? {} : { offload }),
    ...(channelPort === undefined ? {} : { channelPort }),
    ...(o.claiming === true ? { claiming: true } : {}),
  };
}

function isPort(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 65535;
}

/** A claimed MTU outside what a TUN device takes is ignored. */
const MIN_CLAIMED_MTU = 68;
const MAX_CLAIMED_MTU = 65535;

/**
 * `{"address": "2001:2:0:1::1", "prefix": 64}` as canonical CIDR text; undefined when absent or
 * not a usable unicast address (the node then carries IPv4 only with us, as an older one would).
 */
function ipv6Of(raw: unknown): string | undefined {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return undefined;
  const { address, prefix } = raw as Record<string, unknown>;
  if (typeof address !== 'string' || typeof prefix !== 'number' || !Number.isInteger(prefix) || address.length > 45) return undefined;
  const cidr = tryParseIpv6Cidr(`${address}/${prefix}`);
  if (cidr === null || unusableNodeAddressReason(cidr.address) !== undefined) return undefined;
  return ipv6CidrString(cidr);
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
