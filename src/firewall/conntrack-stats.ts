// The kernel's connection table, as the firewall relies on it: how full it is and how many flows
// it evicted to make room (early_drop: unanswered flows go first). Read from /proc, which the
// unprivileged main process may read; the figures cover the whole network namespace (the pod's),
// not only mesh flows.
import { readFileSync } from 'node:fs';

export interface ConntrackStats {
  entries: number;
  max: number;
  /** Flows evicted because the table was full, summed over CPUs; with `drop`, new flows refused. */
  evicted: number;
  refused: number;
}

const readNumber = (path: string): number => Number(readFileSync(path, 'utf8').trim());

/** null where the kernel has no conntrack in this namespace yet (no rule loaded) or /proc hides it. */
export function conntrackStats(): ConntrackStats | null {
  try {
    const [header, ...cpus] = readFileSync('/proc/net/stat/nf_conntrack', 'utf8').trim().split('\n');
    const columns = (header ?? '').trim().split(/\s+/);
    const sum = (name: string): number => {
      const at = columns.indexOf(name);
      return at < 0 ? 0 : cpus.reduce((total, line) => total + parseInt(line.trim().split(/\s+/)[at] ?? '0', 16), 0);
    };
    return {
      entries: readNumber('/proc/sys/net/netfilter/nf_conntrack_count'),
      max: readNumber('/proc/sys/net/netfilter/nf_conntrack_max'),
      evicted: sum('early_drop'),
      refused: sum('drop'),
    };
  } catch {
    return null;
  }
}
