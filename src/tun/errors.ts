// Errors of the TUN layer. Every message says what went wrong AND what to do about it: these are
// the errors an operator sees first when a container lacks /dev/net/tun or NET_ADMIN.

export type TunErrorCode =
  | 'TUN_ADDON_MISSING' // the native addon was not built
  | 'TUN_DEVICE_MISSING' // /dev/net/tun does not exist (or the tun module is not loaded)
  | 'TUN_PERMISSION' // no CAP_NET_ADMIN, or /dev/net/tun not accessible
  | 'TUN_BUSY' // the device name is taken
  | 'TUN_NAME_INVALID' // not a valid Linux interface name
  | 'TUN_INVALID_OPTION' // queues, MTU or an address out of range
  | 'TUN_OPEN_FAILED' // any other failure to open a queue
  | 'TUN_IO' // reading or writing a queue failed (device removed, fd closed)
  | 'IP_COMMAND_FAILED' // an iproute2 command failed or timed out
  | 'SOCKET_QUEUE'; // a channel socket's kernel queue bounds could not be set

export interface TunErrorDetails {
  /** errno of the failing system call, when there was one. */
  errno?: number;
  /** The system call or command that failed. */
  syscall?: string;
  cause?: unknown;
}

export class TunError extends Error {
  readonly code: TunErrorCode;
  readonly errno: number | undefined;
  readonly syscall: string | undefined;

  constructor(code: TunErrorCode, message: string, details: TunErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'TunError';
    this.code = code;
    this.errno = details.errno;
    this.syscall = details.syscall;
  }
}

// Linux errno values the TUN layer tells apart (asm-generic/errno-base.h).
const ERRNO = {
  EPERM: 1,
  ENOENT: 2,
  EIO: 5,
  ENXIO: 6,
  EBADF: 9,
  EACCES: 13,
  EBUSY: 16,
  ENODEV: 19,
  EINVAL: 22,
  EBADFD: 77,
} as const;

const HINT_DEVICE_MISSING =
  'create it: mkdir -p /dev/net && mknod /dev/net/tun c 10 200, or in Docker/Kubernetes pass --device /dev/net/tun';
const HINT_CAP_NET_ADMIN =
  'needs CAP_NET_ADMIN: run as root or add --cap-add NET_ADMIN / securityContext.capabilities.add: [NET_ADMIN]';

/** The shape of errors thrown by the native addon (see ErrnoError in native/tun.cc). */
interface NativeErrnoError {
  message: string;
  errno?: unknown;
  syscall?: unknown;
}

function asNativeError(err: unknown): NativeErrnoError {
  if (typeof err === 'object' && err !== null && 'message' in err && typeof err.message === 'string') {
    return err as NativeErrnoError;
  }
  return { message: String(err) };
}

function errnoOf(err: NativeErrnoError): number | undefined {
  return typeof err.errno === 'number' ? err.errno : undefined;
}

/** Turns an error from the addon's open() into a TunError that says how to fix it. */
export function tunOpenError(err: unknown, name: string): TunError {
  const native = asNativeError(err);
  const errno = errnoOf(native);
  const syscall = typeof native.syscall === 'string' ? native.syscall : undefined;
  const details: TunErrorDetails = { errno, syscall, cause: err };
  const openingDevice = syscall === 'open /dev/net/tun';

  if (openingDevice && (errno === ERRNO.ENOENT || errno === ERRNO.ENODEV || errno === ERRNO.ENXIO)) {
    return new TunError('TUN_DEVICE_MISSING', `cannot open /dev/net/tun (${native.message}): ${HINT_DEVICE_MISSING}`, details);
  }
  if (openingDevice && (errno === ERRNO.EACCES || errno === ERRNO.EPERM)) {
    return new TunError(
      'TUN_PERMISSION',
      `cannot open /dev/net/tun (${native.message}): ${HINT_CAP_NET_ADMIN}; ` +
        'the device node must also be readable and writable by this user',
      details,
    );
  }
  if (errno === ERRNO.EPERM || errno === ERRNO.EACCES) {
    return new TunError('TUN_PERMISSION', `cannot create TUN device ${name} (${native.message}): ${HINT_CAP_NET_ADMIN}`, details);
  }
  if (errno === ERRNO.EBUSY) {
    return new TunError(
      'TUN_BUSY',
      `TUN device name ${name} is in use (${native.message}): another device of that name exists, ` +
        'or a single-queue TUN of that name is held by another process; pick another networking.tun_device_id ' +
        `or remove it (ip link del ${name})`,
      details,
    );
  }
  if (errno === ERRNO.EINVAL && syscall === 'ioctl TUNSETIFF') {
    return new TunError(
      'TUN_BUSY',
      `cannot attach to ${name} (${native.message}): a non-TUN device, or a TUN created without multi-queue, ` +
        `already has that name; pick another name or remove it (ip link del ${name})`,
      details,
    );
  }
  return new TunError('TUN_OPEN_FAILED', `cannot open TUN device ${name}: ${native.message}`, details);
}

/** Turns a failed read or write on a queue into a TunError. */
export function tunIoError(what: 'read' | 'write', fd: number, errnoOrErr: number | unknown): TunError {
  if (typeof errnoOrErr === 'number') {
    const gone = errnoOrErr === ERRNO.EBADFD || errnoOrErr === ERRNO.EBADF || errnoOrErr === ERRNO.EIO;
    return new TunError(
      'TUN_IO',
      `${what} on TUN queue fd ${fd} failed (errno ${errnoOrErr})` +
        (gone ? ': the device was removed or the fd closed; reopen the device' : ''),
      { errno: errnoOrErr, syscall: what },
    );
  }
  const native = asNativeError(errnoOrErr);
  return new TunError('TUN_IO', `${what} on TUN queue fd ${fd} failed: ${native.message}`, {
    errno: errnoOf(native),
    syscall: what,
    cause: errnoOrErr,
  });
}
