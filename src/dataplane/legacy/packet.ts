// The original's Packet JSON, version 3 (protocol §3): the only packet format Ruby nodes speak.
//
//   {"version":3,"ethertype":2048,"b64_data":"<base64, a newline every 60 chars and at the end>",
//    "md5":"<hex md5 of packet bytes + ethertype + internal_stamp + source_node_id>",
//    "internal_stamp":<int(unix seconds * 2^30)>,"source_node_id":"<uuid>"}
//
// internal_stamp is ~2^61, far above 2^53. Ruby computes it as `(Time.now.to_f * 2**30).to_i`: the
// product of a double and a power of two is still a double, so the integer is exactly
// representable as a JS number. What is NOT exact is JS's number printing (String(2**61) ends in
// "000"), so the stamp is always printed through BigInt, both into the JSON and into the md5.
import { createHash } from 'node:crypto';
import { DataPlaneError } from '../errors.js';

const PACKET_VERSION = 3;
export const ETHERTYPE_IPV4 = 2048;
/** IPv6 (0x86dd): only between tunmesh nodes on the JSON path; an original never gets one. */
export const ETHERTYPE_IPV6 = 34525;
/** Ruby's Base64.encode64 line length. */
const B64_LINE = 60;
const STAMP_SCALE = 2 ** 30;

export interface LegacyPacket {
  data: Buffer;
  ethertype: number;
  /** Seconds * 2^30 as a double holding an exact integer. */
  internalStamp: number;
  sourceNodeId: string;
}

/** int(unix seconds * 2^30), as the original stamps a packet read from its TUN. */
export function internalStamp(nowMs = Date.now()): number {
  return Math.floor((nowMs / 1000) * STAMP_SCALE);
}

export function stampSeconds(stamp: number): number {
  return stamp / STAMP_SCALE;
}

/** Ruby's Base64.encode64: standard alphabet, "\n" after every 60 characters and at the end. */
export function rubyBase64(data: Buffer): string {
  const b64 = data.toString('base64');
  let out = '';
  for (let i = 0; i < b64.length; i += B64_LINE) out += b64.slice(i, i + B64_LINE) + '\n';
  return out;
}

function packetMd5(data: Buffer, ethertype: number, stamp: number, sourceNodeId: string): string {
  return createHash('md5')
    .update(data)
    .update(`${ethertype}${stampDigits(stamp)}${sourceNodeId}`)
    .digest('hex');
}

function stampDigits(stamp: number): string {
  return BigInt(stamp).toString();
}

/** The Packet JSON text for one IP packet (keys in the original's order). */
export function encodeLegacyPacket(data: Buffer, sourceNodeId: string, stamp = internalStamp()): string {
  const ethertype = data[0]! >>> 4 === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4;
  const md5 = packetMd5(data, ethertype, stamp, sourceNodeId);
  return (
    `{"version":${PACKET_VERSION},"ethertype":${ethertype},"b64_data":${JSON.stringify(rubyBase64(data))},` +
    `"md5":"${md5}","internal_stamp":${stampDigits(stamp)},"source_node_id":${JSON.stringify(sourceNodeId)}}`
  );
}

/**
 * Decodes a Packet (the parsed object, or its JSON text). Throws DataPlaneError with reason
 * `malformed` (shape, version != 3, md5 mismatch, an ethertype that is not the packet's IP
 * version) or `unsupported` (neither IPv4 nor IPv6).
 */
export function decodeLegacyPacket(payload: unknown): LegacyPacket {
  const p = typeof payload === 'string' ? parseText(payload) : payload;
  if (typeof p !== 'object' || p === null) throw malformed('packet is not a JSON object');
  const o = p as Record<string, unknown>;
  if (o['version'] !== PACKET_VERSION) throw malformed(`packet version ${String(o['version'])}, expected ${PACKET_VERSION}`);
  const { ethertype, b64_data: b64, md5, internal_stamp: stamp, source_node_id: source } = o;
  if (typeof ethertype !== 'number' || typeof b64 !== 'string' || typeof md5 !== 'string' || typeof source !== 'string') {
    throw malformed('packet fields missing or of the wrong type');
  }
  if (typeof stamp !== 'number' || !Number.isSafeInteger(Math.floor(stamp / STAMP_SCALE)) || !Number.isInteger(stamp)) {
    throw malformed('packet internal_stamp is not an integer');
  }
  const data = Buffer.from(b64, 'base64');
  if (packetMd5(data, ethertype, stamp, source) !== md5.toLowerCase()) throw malformed('packet md5 mismatch');
  if (ethertype !== ETHERTYPE_IPV4 && ethertype !== ETHERTYPE_IPV6) throw new DataPlaneError('unsupported', `ethertype ${ethertype} is neither IPv4 nor IPv6`);
  if ((ethertype === ETHERTYPE_IPV6) !== (data.length > 0 && data[0]! >>> 4 === 6)) throw malformed(`ethertype ${ethertype} does not match the packet's IP version`);
  return { data, ethertype, internalStamp: stamp, sourceNodeId: source };
}

function parseText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw malformed('packet is not JSON', err);
  }
}

function malformed(message: string, cause?: unknown): DataPlaneError {
  return new DataPlaneError('malformed', message, cause === undefined ? undefined : { cause });
}
