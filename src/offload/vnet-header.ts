// The virtio-net header (struct virtio_net_hdr, include/uapi/linux/virtio_net.h) that a TUN
// opened with IFF_VNET_HDR puts in front of every packet it reads and expects in front of every
// packet written to it. It says whether the packet is a GSO "super-packet" (and how to cut it)
// and whether its L4 checksum is still to be finished.
//
// Byte order: the fields are __virtio16. For a TUN that is the host's order unless TUNSETVNETLE /
// TUNSETVNETBE say otherwise (drivers/net/tun.c tun_is_little_endian); tunmesh runs on
// little-endian hosts (x86-64, arm64) and sets nothing, so little-endian it is.
//
// The header is parsed into one reusable object (newVnetHeader() once per queue), never
// allocated per packet.

// The wire constants are defined once, with the TUN device that reads and writes the header
// (tun/vnet.ts); here they carry linux/virtio_net.h's names:
//   flags    NEEDS_CSUM: the L4 checksum is partial; finish it from csumStart to the end and
//            store it at csumStart + csumOffset. (DATA_VALID, already verified, is a receive-side
//            flag the TUN never needs from us.)
//   gsoType  NONE: not a super-packet; TCPV4/TCPV6: TSO; UDP_L4: USO, each segment a datagram of
//            its own; UDP: UFO, long gone from Linux, refused here; ECN bit: the TCP stream uses
//            ECN (CWR stays on the first segment only, as always).
import {
  VNET_HDR_LEN,
  VNET_HDR_F_NEEDS_CSUM as VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VNET_GSO_NONE as VIRTIO_NET_HDR_GSO_NONE,
  VNET_GSO_TCPV4 as VIRTIO_NET_HDR_GSO_TCPV4,
  VNET_GSO_UDP as VIRTIO_NET_HDR_GSO_UDP,
  VNET_GSO_TCPV6 as VIRTIO_NET_HDR_GSO_TCPV6,
  VNET_GSO_UDP_L4 as VIRTIO_NET_HDR_GSO_UDP_L4,
  VNET_GSO_ECN as VIRTIO_NET_HDR_GSO_ECN,
} from '../tun/vnet.js';

export {
  VNET_HDR_LEN,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_NONE,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VIRTIO_NET_HDR_GSO_UDP,
  VIRTIO_NET_HDR_GSO_TCPV6,
  VIRTIO_NET_HDR_GSO_UDP_L4,
  VIRTIO_NET_HDR_GSO_ECN,
};

export interface VnetHeader {
  flags: number;
  /** VIRTIO_NET_HDR_GSO_*, possibly with VIRTIO_NET_HDR_GSO_ECN or'ed in. */
  gsoType: number;
  /**
   * Length of the headers. The kernel fills it with the skb's linear length, which may be more
   * or less than the real headers (wireguard-go ignores it too): segmentation reads the real
   * lengths from the packet instead.
   */
  hdrLen: number;
  /** Payload bytes per segment (the MSS for TCP, the datagram payload for USO). */
  gsoSize: number;
  /** Where the L4 checksum starts, from the start of the IP packet. */
  csumStart: number;
  /** Where the checksum field is, from csumStart (16 for TCP, 6 for UDP). */
  csumOffset: number;
}

export function newVnetHeader(): VnetHeader {
  return { flags: 0, gsoType: VIRTIO_NET_HDR_GSO_NONE, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 };
}

/** Fills `into` from buf[off, off + VNET_HDR_LEN) and returns it. The caller checks the length. */
export function readVnetHeader(buf: Buffer, off: number, into: VnetHeader): VnetHeader {
  into.flags = buf[off]!;
  into.gsoType = buf[off + 1]!;
  into.hdrLen = buf[off + 2]! | (buf[off + 3]! << 8);
  into.gsoSize = buf[off + 4]! | (buf[off + 5]! << 8);
  into.csumStart = buf[off + 6]! | (buf[off + 7]! << 8);
  into.csumOffset = buf[off + 8]! | (buf[off + 9]! << 8);
  return into;
}

/** Writes `hdr` at buf[off, off + VNET_HDR_LEN); returns VNET_HDR_LEN. */
export function writeVnetHeader(buf: Buffer, off: number, hdr: VnetHeader): number {
  buf[off] = hdr.flags;
  buf[off + 1] = hdr.gsoType;
  buf.writeUInt16LE(hdr.hdrLen & 0xffff, off + 2);
  buf.writeUInt16LE(hdr.gsoSize & 0xffff, off + 4);
  buf.writeUInt16LE(hdr.csumStart & 0xffff, off + 6);
  buf.writeUInt16LE(hdr.csumOffset & 0xffff, off + 8);
  return VNET_HDR_LEN;
}

/** The header of a plain packet: no GSO, checksum complete (what tunmesh writes for MTU-sized packets). */
export function clearVnetHeader(hdr: VnetHeader): VnetHeader {
  hdr.flags = 0;
  hdr.gsoType = VIRTIO_NET_HDR_GSO_NONE;
  hdr.hdrLen = 0;
  hdr.gsoSize = 0;
  hdr.csumStart = 0;
  hdr.csumOffset = 0;
  return hdr;
}

/** The GSO type without the ECN bit. */
export function gsoKind(hdr: VnetHeader): number {
  return hdr.gsoType & ~VIRTIO_NET_HDR_GSO_ECN;
}
