// The TUN contract for the rest of tunmesh: open and configure a device (main process), then
// read and write packet batches on one queue fd (worker). The addon itself stays private.

export { openTunDevice, deviceExists, runIp } from './device.js';
export type { TunDevice, TunDeviceOptions } from './device.js';
export { TunQueue, packetOffset, DEFAULT_BATCH_SIZE } from './queue.js';
export type { PacketBatch, PacketHandler, QueueErrorHandler, TunQueueOptions, WriteResult } from './queue.js';
export { TunError } from './errors.js';
export type { TunErrorCode } from './errors.js';
export {
  ipVersion,
  ipv4HeaderLength,
  ipv4TotalLength,
  ipv4Protocol,
  ipv4Src,
  ipv4Dst,
  internetChecksum,
  ipv4FixChecksum,
  ipv4ToString,
  ipv4FromString,
  parseIpv4Cidr,
  prefixToMask,
  cidrNetworkString,
  cidrContains,
} from './ipv4.js';
export type { Ipv4Cidr } from './ipv4.js';
