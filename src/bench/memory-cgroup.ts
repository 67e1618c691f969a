// A node's memory as its container sees it: a memory cgroup made for the node, which it joins
// before it starts (MeshLab's cgroupOf), read the way Kubernetes reads a container's usage:
// the working set = usage - inactive file pages. Summing the processes' RSS instead counts the
// pages they share (the node binary, libraries) once per process; the cgroup charges each page
// once. Caveat: file pages first read outside the cgroup (the node binary, already cached by
// this benchmark's own node process) are charged elsewhere, so the working set here leaves out
// the binary's resident text; RssFile of a process (from /proc/PID/status) tells how much that is.
import { existsSync, mkdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { readOptional as read } from './proc.js';

export interface MemoryCgroup {
  path: string;
  /** usage - inactive_file, in bytes (undefined if it cannot be read). */
  workingSetBytes(): number | undefined;
  remove(): void;
}

interface Layout {
  root: string;
  usage: string;
  inactiveFile: string;
}

/** cgroup v2 (memory in the root's controllers), else v1 (a memory hierarchy of its own). */
const LAYOUTS: Layout[] = [
  { root: '/sys/fs/cgroup', usage: 'memory.current', inactiveFile: 'inactive_file' },
  { root: '/sys/fs/cgroup/memory', usage: 'memory.usage_in_bytes', inactiveFile: 'total_inactive_file' },
];

/** A value of a memory.stat text ("name value" lines). */
export function statValue(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

function usable(l: Layout): boolean {
  if (l.usage === 'memory.current') return (read(join(l.root, 'cgroup.controllers')) ?? '').split(/\s+/).includes('memory');
  return existsSync(join(l.root, l.usage));
}

/** A new memory cgroup named `name`, or undefined where this machine does not let us make one. */
export function createMemoryCgroup(name: string): MemoryCgroup | undefined {
  for (const layout of LAYOUTS.filter(usable)) {
    const path = join(layout.root, name);
    try {
      mkdirSync(path);
    } catch {
      continue;
    }
    return {
      path,
      workingSetBytes: () => {
        const usage = Number(read(join(path, layout.usage)));
        const inactive = statValue(read(join(path, 'memory.stat')) ?? '', layout.inactiveFile) ?? 0;
        return Number.isFinite(usage) && usage > 0 ? usage - inactive : undefined;
      },
      remove: () => {
        try {
          rmdirSync(path);
        } catch {
          // still emptying (a process just exited): the next run's name differs anyway
        }
      },
    };
  }
  return undefined;
}
