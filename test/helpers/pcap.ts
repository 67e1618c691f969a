// A tiny reader of classic pcap files (what `tcpdump -w` writes): the global header, then records
// of (timestamp, captured length, original length, bytes). Only Ethernet captures (link type 1)
// are unwrapped to their IP packets; enough for comparing packets the kernel put on a veth.
import { readFileSync } from 'node:fs';

const MAGIC_MICROS = 0xa1b2c3d4;
const MAGIC_NANOS = 0xa1b23c4d;
const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;
const LINKTYPE_ETHERNET = 1;
const ETHERNET_HEADER = 14;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;

export interface PcapRecord {
  /** The captured bytes (the whole frame unless the snap length cut it). */
  data: Buffer;
  /** The frame's length on the wire. */
  originalLength: number;
}

export function readPcap(file: string): { linkType: number; records: PcapRecord[] } {
  const buf = readFileSync(file);
  if (buf.length < GLOBAL_HEADER) throw new Error(`${file}: ${buf.length} bytes, too short for a pcap file`);
  const magicLE = buf.readUInt32LE(0);
  const magicBE = buf.readUInt32BE(0);
  let le: boolean;
  if (magicLE === MAGIC_MICROS || magicLE === MAGIC_NANOS) le = true;
  else if (magicBE === MAGIC_MICROS || magicBE === MAGIC_NANOS) le = false;
  else throw new Error(`${file}: not a pcap file (magic ${buf.subarray(0, 4).toString('hex')})`);
  const u32 = (off: number): number => (le ? buf.readUInt32LE(off) : buf.readUInt32BE(off));
  const linkType = u32(20);
  const records: PcapRecord[] = [];
  for (let off = GLOBAL_HEADER; off + RECORD_HEADER <= buf.length; ) {
    const caplen = u32(off + 8);
    const originalLength = u32(off + 12);
    const start = off + RECORD_HEADER;
    if (start + caplen > buf.length) break; // the capture was cut short mid-record
    records.push({ data: buf.subarray(start, start + caplen), originalLength });
    off = start + caplen;
  }
  return { linkType, records };
}

/** The IPv4/IPv6 packets of an Ethernet capture, whole ones only (not cut by the snap length). */
export function readIpPackets(file: string): Buffer[] {
  const { linkType, records } = readPcap(file);
  if (linkType !== LINKTYPE_ETHERNET) throw new Error(`${file}: link type ${linkType}, expected Ethernet (1): capture on one interface, not "any"`);
  const packets: Buffer[] = [];
  for (const r of records) {
    if (r.data.length !== r.originalLength || r.data.length < ETHERNET_HEADER) continue;
    const type = r.data.readUInt16BE(12);
    if (type === ETHERTYPE_IPV4 || type === ETHERTYPE_IPV6) packets.push(r.data.subarray(ETHERNET_HEADER));
  }
  return packets;
}
