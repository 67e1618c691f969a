// TUN offloads: the virtio-net header in front of packets of an IFF_VNET_HDR TUN, and the
// software segmentation of GSO super-packets for paths that need MTU-sized packets.

export * from './vnet-header.js';
export { segmentSuperPacket, completeChecksum, newSegmentTarget, resetSegmentTarget } from './segment.js';
export type { SegmentTarget, SegmentFailure } from './segment.js';
export { readPacketLayout, newPacketLayout, IPPROTO_TCP } from './layout.js';
export type { PacketLayout } from './layout.js';
export { onesSum, fold, checksumOf } from './checksum.js';
export { VnetSegmenter } from './vnet-segmenter.js';
export type { VnetSegmentSink } from './vnet-segmenter.js';
