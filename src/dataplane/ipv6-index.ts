// Exact-match lookup of IPv6 host addresses read straight out of a packet, with no allocation:
// a Map keyed by the address's last 32-bit word (the host part, spread well across a mesh's
// nodes) holding the few entries that share it, compared word by word. Built once per state,
// read per packet.
import { wordAt, type Ipv6Address } from '../tun/ipv6.js';

interface Entry<V> {
  w0: number;
  w1: number;
  w2: number;
  value: V;
}

export class Ipv6Index<V> {
  private readonly buckets = new Map<number, Entry<V>[]>();

  /** Adds or replaces the value of an address. */
  set(a: Ipv6Address, value: V): void {
    const bucket = this.buckets.get(a[3]);
    if (bucket === undefined) {
      this.buckets.set(a[3], [{ w0: a[0], w1: a[1], w2: a[2], value }]);
      return;
    }
    const same = bucket.find((e) => e.w0 === a[0] && e.w1 === a[1] && e.w2 === a[2]);
    if (same) same.value = value;
    else bucket.push({ w0: a[0], w1: a[1], w2: a[2], value });
  }

  /** The value of the address at buf[addrOff, addrOff+16), if any. */
  getAt(buf: Buffer, addrOff: number): V | undefined {
    const bucket = this.buckets.get(wordAt(buf, addrOff + 12));
    if (bucket === undefined) return undefined;
    const w0 = wordAt(buf, addrOff);
    const w1 = wordAt(buf, addrOff + 4);
    const w2 = wordAt(buf, addrOff + 8);
    for (let i = 0; i < bucket.length; i++) {
      const e = bucket[i]!;
      if (e.w0 === w0 && e.w1 === w1 && e.w2 === w2) return e.value;
    }
    return undefined;
  }
}
