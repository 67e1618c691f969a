// The seam for software segmentation: where a super-packet read from an offload TUN must leave
// on a path that only carries MTU-sized, checksummed packets (the original's JSON path, a peer
// without offloads, v1 frames), the send path calls the Segmenter below.
//
// The segmenter itself (src/offload/segment.ts + vnet-header.ts, segmentSuperPacket() and
// completeChecksum()) comes from another branch. Until it is plugged in here `softwareSegmenter`
// is null, and the node keeps the kernel's TSO/USO/CSUM offloads OFF while any peer needs such
// a path (offload-mode.ts): reads are then plain packets behind an empty header, and the rare
// super-packet still queued from before the switch is dropped (`oversized`; TCP resends it).
//
// TO PLUG IN: set `softwareSegmenter` to an adapter over segment.ts (one object, below). The
// offload switch then keeps offloads on for every mix of peers.

/** Receives each packet the segmenter emits; the range is valid only during the call. */
export interface SegmentSink {
  packet(buf: Buffer, off: number, len: number): void;
}

export interface Segmenter {
  /**
   * Cuts the GSO super-packet at buf[off, off + len) - a VNET_HDR_LEN-byte virtio_net_hdr (as
   * the TUN read it: gso_type TCPV4/TCPV6/UDP_L4, gso_size, hdr_len, csum_start, csum_offset)
   * followed by the IP packet - into packets of at most `mtu` bytes with their IP and TCP/UDP
   * checksums, IP ids and TCP flags/sequence numbers as the kernel's own segmentation would make
   * them, and hands each to sink.packet() in order (plain IP packets, no header). Returns the
   * number emitted, or -1 when the header or packet is malformed (nothing was emitted).
   */
  segment(buf: Buffer, off: number, len: number, mtu: number, sink: SegmentSink): number;
  /**
   * Fills in, in place, the checksum of a plain packet (gso_type NONE) whose header says
   * NEEDS_CSUM: buf[off, off + len) is the header then the packet, csum_start/csum_offset are
   * relative to the packet. False when the offsets lie outside the packet.
   */
  completeChecksum(buf: Buffer, off: number, len: number): boolean;
}

/** null until the software segmentation is merged (see the top of this file). */
export const softwareSegmenter: Segmenter | null = null;
