// Protocol shapes of the original's control plane (reference §3), typed once and validated
// here, at the edge. Everything past these parsers trusts the types.
//
// These are exactly the original's structs: it refuses any unknown field with a 500, so tunmesh
// adds nothing to them (its capabilities travel in a signed token claim: capabilities.ts). We
// ignore unknown fields on the way in, so a later version may send more to us.
import { MeshError } from './errors.js';
import { tryParseIpv4Cidr } from '../tun/ipv4.js';

export interface NodeInfo {
  id: string;
  listen_url: string;
  network_addresses: { ipv4: { cidr: string } };
  node_addresses: { ipv4: { cidr: string } };
}

export interface Registration {
  local: NodeInfo;
  remote: NodeInfo[];
  stamp: number;
}

export interface InitSessionRequest {
  public_key: string;
}

export interface InitSessionResponse {
  id: string;
  secret: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Obj = Record<string, unknown>;

function invalid(what: string): never {
  throw new MeshError('invalid', `Invalid ${what}`);
}

function obj(v: unknown, what: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) invalid(what);
  return v as Obj;
}

function str(v: unknown, what: string, pattern?: RegExp, maxLength = 2048): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > maxLength || (pattern && !pattern.test(v))) invalid(what);
  return v;
}

/** The parser the route table uses: a CIDR that passes here cannot throw in a worker later. */
function cidr(v: unknown, what: string): string {
  const s = str(v, what);
  if (tryParseIpv4Cidr(s) === null) invalid(what);
  return s;
}

function httpsUrl(v: unknown, what: string): string {
  const s = str(v, what);
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    invalid(what);
  }
  if (url.protocol !== 'https:') invalid(`${what} (must be https)`);
  return s;
}

export function parseNodeInfo(v: unknown, what = 'node info'): NodeInfo {
  const o = obj(v, what);
  const net = obj(obj(o.network_addresses, `${what}.network_addresses`).ipv4, `${what}.network_addresses.ipv4`);
  const node = obj(obj(o.node_addresses, `${what}.node_addresses`).ipv4, `${what}.node_addresses.ipv4`);
  return {
    id: str(o.id, `${what}.id`, UUID).toLowerCase(),
    listen_url: httpsUrl(o.listen_url, `${what}.listen_url`),
    network_addresses: { ipv4: { cidr: cidr(net.cidr, `${what}.network_addresses.ipv4.cidr`) } },
    node_addresses: { ipv4: { cidr: cidr(node.cidr, `${what}.node_addresses.ipv4.cidr`) } },
  };
}

/** node_info GET answers carry at least id and listen_url. */
export function parseNodeIdentity(v: unknown): { id: string; listen_url: string } {
  const o = obj(v, 'node_info response');
  return { id: str(o.id, 'node_info.id', UUID).toLowerCase(), listen_url: httpsUrl(o.listen_url, 'node_info.listen_url') };
}

const MAX_REMOTE_NODES = 4096;
/** Base64 of a DER RSA public key of up to 16384 bits, with room to spare. */
export const MAX_PUBLIC_KEY_CHARS = 4096;

export function parseRegistration(v: unknown): Registration {
  const o = obj(v, 'registration');
  if (!Array.isArray(o.remote) || o.remote.length > MAX_REMOTE_NODES) invalid('registration.remote');
  if (typeof o.stamp !== 'number' || !Number.isFinite(o.stamp)) invalid('registration.stamp');
  return {
    local: parseNodeInfo(o.local, 'registration.local'),
    remote: (o.remote as unknown[]).map((r, i) => parseNodeInfo(r, `registration.remote[${i}]`)),
    stamp: o.stamp,
  };
}

export function parseInitSessionRequest(v: unknown): InitSessionRequest {
  const o = obj(v, 'init_session request');
  // A 16384-bit key (the largest pub_key_size) is ~2.8 KB of base64 DER.
  return { public_key: str(o.public_key, 'public_key', undefined, MAX_PUBLIC_KEY_CHARS) };
}

export function parseInitSessionResponse(v: unknown): InitSessionResponse {
  const o = obj(v, 'init_session response');
  return { id: str(o.id, 'init_session.id', UUID), secret: str(o.secret, 'init_session.secret') };
}
