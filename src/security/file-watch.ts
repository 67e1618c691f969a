// Watches files for replacement, the way they are replaced in practice: written in place, renamed
// over (atomic writes), or swapped as a directory symlink (Kubernetes secrets and config maps).
// The folders are watched, not the files: a watch on a file follows the inode that was renamed
// away. Only events that name one of the files, or a Kubernetes `..data`-style entry, count: a
// folder that also holds logs or sockets must not cause a reload per log line. Events are
// debounced; the callback re-reads and decides whether anything changed.
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

const WATCH_DEBOUNCE_MS = 150;

export interface FileWatch {
  close(): void;
}

/** Calls `onChange` (debounced) after any change in the folders of `paths`. Watches are set up now (before a privilege drop). */
export function watchFiles(paths: readonly string[], onChange: () => void, onError: (dir: string, err: Error) => void, debounceMs = WATCH_DEBOUNCE_MS): FileWatch {
  let timer: NodeJS.Timeout | undefined;
  const fire = (): void => {
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
    timer.unref();
  };
  const names = new Set(paths.map((p) => basename(p)));
  const relevant = (name: string | Buffer | null): boolean => {
    if (name === null) return true; // the platform did not say which entry: assume ours
    const entry = name.toString();
    return names.has(entry) || entry.startsWith('..');
  };
  const watchers: FSWatcher[] = [];
  for (const dir of new Set(paths.map((p) => dirname(p)))) {
    try {
      const w = watch(dir, { persistent: false }, (_event, name) => {
        if (relevant(name)) fire();
      });
      w.on('error', (err) => onError(dir, err));
      watchers.push(w);
    } catch (err) {
      onError(dir, err as Error);
    }
  }
  return {
    close() {
      clearTimeout(timer);
      for (const w of watchers) w.close();
    },
  };
}
