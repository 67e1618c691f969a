// The TUN device's offload mode (IFF_VNET_HDR + TUNSETOFFLOAD), the kernel side of it.
//
// With IFF_VNET_HDR every read and every write starts with a 10-byte virtio_net_hdr. With
// TUNSETOFFLOAD (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 [| TUN_F_USO4 | TUN_F_USO6]) the kernel hands
// us TCP/UDP "super-packets" of up to 64 KB (the header says how to cut them: gso_type,
// gso_size, hdr_len) and packets whose checksum is still to be filled in (NEEDS_CSUM: csum_start,
// csum_offset). Writes may be super-packets as well: the kernel segments them, or delivers them
// whole to a local socket. The same as upstream wireguard-go's tun/offload_linux.go.
//
// Only the fields the data plane looks at per packet are read here (two bytes); parsing and
// building the whole header belongs to the software segmentation (src/offload/).
import { loadAddon } from './addon.js';
import { TunError } from './errors.js';
import { IPV6_HEADER_LENGTH } from './ipv6.js';
import { errorMessage } from '../log/error-message.js';

/** sizeof(struct virtio_net_hdr): what TUNSETVNETHDRSZ is set to (no num_buffers). */
export const VNET_HDR_LEN = 10;

/** virtio_net_hdr.flags */
export const VNET_HDR_F_NEEDS_CSUM = 1;
/** virtio_net_hdr.gso_type (low bits; 0x80 is the ECN flag) */
export const VNET_GSO_NONE = 0;
export const VNET_GSO_TCPV4 = 1;
export const VNET_GSO_UDP = 3;
export const VNET_GSO_TCPV6 = 4;
export const VNET_GSO_UDP_L4 = 5;
export const VNET_GSO_ECN = 0x80;

/** TUNSETOFFLOAD bits (linux/if_tun.h; USO since Linux 6.2, absent from older headers). */
export const TUN_F_CSUM = 0x01;
export const TUN_F_TSO4 = 0x02;
export const TUN_F_TSO6 = 0x04;
const TUN_F_USO4 = 0x20;
const TUN_F_USO6 = 0x40;

/** What we ask for, best first: the kernel refuses unknown bits with EINVAL, so we try less. */
const OFFLOAD_CHOICES: readonly number[] = [
  TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_USO4 | TUN_F_USO6,
  TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6,
];

// The size limits of offload mode, defined here once for the TUN queue, the fast-path frames and
// src/offload/. Two packet bounds because IPv4 and IPv6 count differently: IPv4's 16-bit length
// covers the whole packet, IPv6's only the payload behind the 40-byte header.

/** The largest IP packet a 16-bit total length allows (IPv4); the limit segmentation and GRO keep to. */
export const MAX_IP_PACKET = 65535;
/**
 * The largest IP packet a read can return in offload mode: an IPv6 super-packet, its 40-byte
 * header plus a full 16-bit payload length. The virtio_net_hdr in front is not counted.
 */
export const MAX_SUPER_PACKET = IPV6_HEADER_LENGTH + 65535;
/** Segments software GRO merges into one super-packet at most (the kernel's GRO stops at 64 too). */
export const MAX_GRO_SEGMENTS = 64;
/**
 * Segments per super-packet the software segmenter's slab has room for: a 64 KB packet cut for
 * an MTU of 576 (the smallest tunmesh accepts) with 120 bytes of headers makes 144.
 */
export const MAX_GSO_SEGMENTS = 256;

/** Names of the TUN_F_* bits, for logs and status. */
export function offloadNames(flags: number): string[] {
  const names: Array<[number, string]> = [
    [TUN_F_CSUM, 'csum'],
    [TUN_F_TSO4, 'tso4'],
    [TUN_F_TSO6, 'tso6'],
    [TUN_F_USO4, 'uso4'],
    [TUN_F_USO6, 'uso6'],
  ];
  return names.filter(([bit]) => (flags & bit) !== 0).map(([, name]) => name);
}

/** Sets the header size on a queue opened with IFF_VNET_HDR (device-wide). */
export function setVnetHeaderSize(fd: number): void {
  try {
    loadAddon().setVnetHeaderSize(fd, VNET_HDR_LEN);
  } catch (err) {
    throw new TunError('TUN_OPEN_FAILED', `cannot set the TUN virtio-net header size: ${errorMessage(err)}`, { cause: err });
  }
}

/**
 * Enables the best offloads the kernel accepts on the device of `fd`; returns the TUN_F_* bits
 * set, or 0 when it accepts none (the device then works as without offloads, headers stay).
 */
export function enableBestOffloads(fd: number): number {
  const addon = loadAddon();
  for (const flags of OFFLOAD_CHOICES) {
    try {
      addon.setOffload(fd, flags);
      return flags;
    } catch {
      // EINVAL: a bit this kernel does not know; try the next, smaller set
    }
  }
  return 0;
}

/** gso_type of the header at buf[off], without the ECN bit. */
export function vnetGsoType(buf: Buffer, off: number): number {
  return buf[off + 1]! & ~VNET_GSO_ECN;
}

/** Whether the packet behind the header at buf[off] still needs its checksum filled in. */
export function vnetNeedsCsum(buf: Buffer, off: number): boolean {
  return (buf[off]! & VNET_HDR_F_NEEDS_CSUM) !== 0;
}
