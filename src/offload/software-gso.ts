// The seam for software segmentation: where a super-packet read from an offload TUN must leave
// on a path that only carries MTU-sized, checksummed packets (the original's JSON path, a peer
// without offloads, v1 frames), the send path calls the Segmenter below.
//
// The segmenter is VnetSegmenter (vnet-segmenter.ts over segment.ts and vnet-header.ts), tested
// byte for byte against the kernel's own segmentation: with it the kernel's TSO/USO/CSUM offloads
// stay on for every mix of peers.

import { VnetSegmenter } from './vnet-segmenter.js';

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

/** One per process (each worker has its own): it owns its output slab. */
export const softwareSegmenter: Segmenter = new VnetSegmenter();
