// Reading inputs and writing outputs of `tunmesh certs`. Outputs are written only when none of
// them exists yet (or with --force), private keys 0600 and certificates 0644, so a typo in --out
// never replaces a CA key.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { CertsError } from './errors.js';

export interface OutputFile {
  path: string;
  content: string;
  /** Private keys: 0600; certificates: 0644. */
  secret: boolean;
}

export function readInput(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new CertsError(`cannot read ${what} ${path}: ${code === 'ENOENT' ? 'no such file' : code}`);
  }
}

export function writeOutputs(dir: string, files: readonly OutputFile[], force: boolean): void {
  if (!force) {
    const existing = files.filter((f) => existsSync(f.path)).map((f) => f.path);
    if (existing.length > 0) throw new CertsError(`refusing to overwrite ${existing.join(', ')} (use --force)`);
  }
  try {
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    for (const f of files) {
      const mode = f.secret ? 0o600 : 0o644;
      writeFileSync(f.path, f.content, { mode, flag: force ? 'w' : 'wx' });
      // The mode above applies only to a new file; an overwritten one keeps its old mode.
      chmodSync(f.path, mode);
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new CertsError(`cannot write to ${dir}: ${e.code ?? e.message}`);
  }
}
