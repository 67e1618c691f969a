// Drop from root to the configured uid/gid once everything that needs root is done (TUN
// opened and configured, key files read, port bound), as the original does.
import { errorMessage } from '../log/error-message.js';

class PrivilegeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrivilegeError';
  }
}

export function dropPrivileges(uid: number, gid: number): 'dropped' | 'unchanged' {
  if (typeof process.getuid !== 'function' || typeof process.setuid !== 'function' || typeof process.setgid !== 'function') return 'unchanged';
  if (process.getuid() === uid) return 'unchanged';
  if (process.getuid() !== 0) throw new PrivilegeError(`running as uid ${process.getuid()}, cannot switch to uid ${uid}: start tunmesh as root`);
  try {
    process.setgroups?.([gid]);
    process.setgid(gid);
    process.setuid(uid);
  } catch (err) {
    throw new PrivilegeError(`cannot drop privileges to uid ${uid} gid ${gid}: ${errorMessage(err)}`);
  }
  return 'dropped';
}
