// Hand-built packets for unit tests of the data plane's header reading and routing.
import { ipv6FromString } from '../../src/tun/ipv6.js';

/** An IPv6 header (ICMPv6, `payload` bytes after it) from src to dst. */
export function ipv6Packet(src: string, dst: string, payload = 8): Buffer {
  const p = Buffer.alloc(40 + payload);
  p[0] = 0x60;
  p.writeUInt16BE(payload, 4);
  p[6] = 58;
  p[7] = 64;
  const s = ipv6FromString(src);
  const d = ipv6FromString(dst);
  for (let i = 0; i < 4; i++) {
    p.writeUInt32BE(s[i]!, 8 + 4 * i);
    p.writeUInt32BE(d[i]!, 24 + 4 * i);
  }
  return p;
}
