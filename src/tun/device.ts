// The TUN device: open its queues and configure it (MTU, address, up, mesh route).
//
// Runs in the main process, as root, before privileges are dropped: each queue fd is then handed
// to one forked worker (child_process.fork stdio entry -> fd 3+N in the worker), which wraps it
// in a TunQueue. A queue is therefore usable from its fd number alone.
//
// Every queue, even the only one, is opened with IFF_MULTI_QUEUE. The kernel refuses to mix
// the two kinds on one device (EINVAL), so a device created single-queue could never take a
// second worker's queue; with multi-queue the kernel also spreads flows over the queues by
// hash, which is what lets each worker own one. Cost: none for a single queue.
//
// The first queue is opened with IFF_TUN_EXCL so we create the device we then configure,
// instead of silently attaching to someone else's device of the same name.
//
// Offloads (vnet.ts): with `offload` 'on' or 'auto' every queue is opened with IFF_VNET_HDR (the
// flag is the device's: all queues alike), then TUNSETVNETHDRSZ and the best TUNSETOFFLOAD the
// kernel takes. 'auto' falls back to a plain device when the kernel refuses; 'on' fails instead.

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { loadAddon } from './addon.js';
import { TunError, tunOpenError } from './errors.js';
import { ipv4ToString, parseIpv4Cidr, type Ipv4Cidr } from './ipv4.js';
import { enableIpv6, type Ipv6Setup } from './ipv6-setup.js';
import { IPV6_MIN_MTU, parseIpv6Cidr, type Ipv6Cidr } from './ipv6.js';
import { enableBestOffloads, setVnetHeaderSize } from './vnet.js';
import { errorMessage } from '../log/error-message.js';

/** 'auto': offloads when the kernel takes them; 'on': required; 'off': a plain device. */
export type OffloadMode = 'auto' | 'on' | 'off';

export interface TunDeviceOptions {
  /** Interface name, 1..15 bytes (Linux IFNAMSIZ - 1). */
  name: string;
  /** Queues to open (one per worker), 1..MAX_QUEUES. */
  queues: number;
  mtu: number;
  /** This node's mesh address with the prefix of its own subnet, e.g. 198.19.1.1/24. */
  addressCidr: string;
  /** The whole mesh network, routed into the device, e.g. 198.19.0.0/16. */
  routeCidr: string;
  /** IPv6 overlay: our IPv6 address with prefix and the IPv6 mesh network; absent: IPv4 only. */
  ipv6?: { addressCidr: string; routeCidr: string };
  /** TUN offloads (default 'off'). */
  offload?: OffloadMode;
  /** Timeout of each `ip` command (default IP_COMMAND_TIMEOUT_MS). */
  ipTimeoutMs?: number;
}

export interface TunDevice {
  readonly name: string;
  /** One fd per queue, O_NONBLOCK, owned by this object until close(). */
  readonly queueFds: readonly number[];
  readonly mtu: number;
  readonly address: Ipv4Cidr;
  readonly route: Ipv4Cidr;
  /** The IPv6 address and route, or null when the device carries IPv4 only. */
  readonly ipv6: { address: Ipv6Cidr; route: Ipv6Cidr } | null;
  /** Every read and write carries a virtio_net_hdr (VNET_HDR_LEN bytes) in front of the packet. */
  readonly vnetHeader: boolean;
  /** TUN_F_* bits the kernel accepted at open (0 without offloads). */
  readonly offloads: number;
  /** Why offloads are off although asked for ('auto' fell back), for the log. */
  readonly offloadFallback?: string;
  /**
   * Whether the device still works as opened: up, running (a queue attached) and carrying its
   * IPv4 address in this network namespace; false once closed. For /health's router.tun.
   */
  isUp(): boolean;
  /**
   * Closes this process's queue fds. The device (not persistent) disappears once every copy of
   * every queue fd is closed, including copies held by workers. Idempotent.
   */
  close(): void;
}

/** The kernel's limit on queues per TUN device (MAX_TAP_QUEUES). */
const MAX_QUEUES = 256;
/** `ip` talks to netlink and returns in milliseconds; seconds means something is stuck. */
const IP_COMMAND_TIMEOUT_MS = 5000;
/** IPv4 minimum MTU (RFC 791) and the TUN driver's maximum. */
const MIN_MTU = 68;
const MAX_MTU = 65535;

const IFNAMSIZ = 16;

/** Why a name is not a valid interface name (mirrors the kernel's dev_valid_name), or undefined. */
function invalidDeviceNameReason(name: string): string | undefined {
  const bytes = Buffer.byteLength(name);
  if (bytes === 0) return 'it is empty';
  if (bytes >= IFNAMSIZ) return `it is ${bytes} bytes long; Linux allows at most ${IFNAMSIZ - 1}`;
  if (name === '.' || name === '..') return 'it is "." or ".."';
  if (/[/:\s]/.test(name)) return 'it contains "/", ":" or whitespace';
  return undefined;
}

function validate(opts: TunDeviceOptions): { address: Ipv4Cidr; route: Ipv4Cidr; ipv6: Ipv6Setup | null } {
  const reason = invalidDeviceNameReason(opts.name);
  if (reason !== undefined) {
    throw new TunError('TUN_NAME_INVALID', `invalid TUN device name ${JSON.stringify(opts.name)}: ${reason}`);
  }
  if (!Number.isInteger(opts.queues) || opts.queues < 1 || opts.queues > MAX_QUEUES) {
    throw new TunError('TUN_INVALID_OPTION', `TUN queues must be an integer in 1..${MAX_QUEUES}, got ${opts.queues}`);
  }
  if (!Number.isInteger(opts.mtu) || opts.mtu < MIN_MTU || opts.mtu > MAX_MTU) {
    throw new TunError('TUN_INVALID_OPTION', `TUN MTU must be an integer in ${MIN_MTU}..${MAX_MTU}, got ${opts.mtu}`);
  }
  if (opts.ipv6 !== undefined && opts.mtu < IPV6_MIN_MTU) {
    throw new TunError('TUN_INVALID_OPTION', `TUN MTU must be at least ${IPV6_MIN_MTU} to carry IPv6, got ${opts.mtu}`);
  }
  const ipv6 = opts.ipv6 === undefined ? null : { address: parseIpv6Cidr(opts.ipv6.addressCidr), route: parseIpv6Cidr(opts.ipv6.routeCidr) };
  return { address: parseIpv4Cidr(opts.addressCidr), route: parseIpv4Cidr(opts.routeCidr), ipv6 };
}

/** Opens and configures a TUN device. On any failure nothing is left behind. */
export async function openTunDevice(opts: TunDeviceOptions): Promise<TunDevice> {
  const { address, route, ipv6 } = validate(opts);
  const mode = opts.offload ?? 'off';
  let fds: number[];
  let offloads = 0;
  let fallback: string | undefined;
  if (mode === 'off') fds = openQueues(opts.name, opts.queues, false);
  else {
    try {
      fds = openQueues(opts.name, opts.queues, true);
      offloads = startOffloads(fds);
    } catch (err) {
      if (mode === 'on') throw err;
      fallback = errorMessage(err);
      fds = openQueues(opts.name, opts.queues, false);
    }
  }
  const vnetHeader = mode !== 'off' && fallback === undefined;
  const closeAll = (): void => {
    const addon = loadAddon();
    for (const fd of fds.splice(0)) addon.close(fd);
  };
  try {
    await configure(opts.name, opts.mtu, address, route, ipv6, opts.ipTimeoutMs ?? IP_COMMAND_TIMEOUT_MS);
  } catch (err) {
    closeAll();
    throw err;
  }
  const queueFds = Object.freeze(fds.slice());
  return {
    name: opts.name,
    queueFds,
    mtu: opts.mtu,
    address,
    route,
    ipv6,
    vnetHeader,
    offloads,
    ...(fallback !== undefined ? { offloadFallback: fallback } : {}),
    isUp: () => fds.length > 0 && carriesAddress(opts.name, ipv4ToString(address.address)),
    close: closeAll,
  };
}

/**
 * Whether interface `name` is up and running with IPv4 address `addr`. os.networkInterfaces()
 * (getifaddrs over netlink, in this process's namespace, no privileges needed) lists only
 * interfaces that are both IFF_UP and IFF_RUNNING, so a device set down, without carrier or
 * deleted is absent: a cheap, synchronous check that needs no `ip` process.
 */
function carriesAddress(name: string, addr: string): boolean {
  return (networkInterfaces()[name] ?? []).some((a) => a.family === 'IPv4' && a.address === addr);
}

/** Header size and the best offloads on freshly opened vnet queues; closes them on failure. */
function startOffloads(fds: number[]): number {
  const first = fds[0]!;
  try {
    setVnetHeaderSize(first);
    const flags = enableBestOffloads(first);
    if (flags === 0) throw new TunError('TUN_OPEN_FAILED', 'the kernel accepts no TUN offloads (TUNSETOFFLOAD refused)');
    return flags;
  } catch (err) {
    const addon = loadAddon();
    for (const fd of fds) addon.close(fd);
    throw err;
  }
}

function openQueues(name: string, count: number, vnetHeader: boolean): number[] {
  const addon = loadAddon();
  const fds: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      fds.push(addon.open(name, true, i === 0, vnetHeader).fd);
    }
  } catch (err) {
    for (const fd of fds) addon.close(fd);
    throw tunOpenError(err, name);
  }
  return fds;
}

async function configure(name: string, mtu: number, address: Ipv4Cidr, route: Ipv4Cidr, ipv6: Ipv6Setup | null, timeoutMs: number): Promise<void> {
  const addr = `${ipv4ToString(address.address)}/${address.prefix}`;
  await runIp(['link', 'set', 'dev', name, 'mtu', String(mtu)], timeoutMs);
  // `brd +`: the subnet's broadcast address is a local broadcast, so broadcasts from peers
  // (delivered by tunmesh, unlike the original) are accepted by the kernel.
  await runIp(['addr', 'replace', addr, 'brd', '+', 'dev', name], timeoutMs);
  // IPv6 sysctls must be set before the link goes up (no link-local address, no solicitations).
  let finishIpv6: (() => Promise<void>) | undefined;
  if (ipv6 === null) disableIpv6(name);
  else finishIpv6 = await enableIpv6(name, ipv6, (args) => runIp(args, timeoutMs));
  await runIp(['link', 'set', 'dev', name, 'up'], timeoutMs);
  await finishIpv6?.();
  // The address's own prefix already routes its subnet into the device; a wider mesh network
  // needs its own route. `src` makes locally originated mesh traffic carry our mesh address.
  if (route.network !== address.network || route.prefix !== address.prefix) {
    const net = `${ipv4ToString(route.network)}/${route.prefix}`;
    await runIp(['route', 'replace', net, 'dev', name, 'src', ipv4ToString(address.address)], timeoutMs);
    // The mesh network's broadcast address is a local broadcast too (sent to, and accepted
    // from, every node).
    const brd = ipv4ToString(route.broadcast);
    await runIp(['route', 'replace', 'broadcast', brd, 'dev', name, 'table', 'local', 'scope', 'link', 'src', ipv4ToString(address.address)], timeoutMs);
  }
}

/**
 * Without an IPv6 address the device carries IPv4 only (as the original): without this the kernel
 * sends IPv6 router solicitations and MLD reports into the device, each a wasted wake-up and an
 * `unsupported` drop.
 * Best effort: with IPv6 off system-wide the file does not exist.
 */
function disableIpv6(name: string): void {
  try {
    writeFileSync(`/proc/sys/net/ipv6/conf/${name}/disable_ipv6`, '1');
  } catch {
    // no IPv6 on this host or in this namespace: nothing to silence
  }
}

/** Whether a network interface of that name exists in this process's network namespace. */
export async function deviceExists(name: string, timeoutMs = IP_COMMAND_TIMEOUT_MS): Promise<boolean> {
  if (invalidDeviceNameReason(name) !== undefined) return false;
  try {
    await runIp(['-o', 'link', 'show', 'dev', name], timeoutMs);
    return true;
  } catch (err) {
    if (err instanceof TunError && err.code === 'IP_COMMAND_FAILED' && /does not exist/i.test(err.message)) return false;
    throw err;
  }
}

/** Runs `ip ARGS` with a bounded time; throws TunError('IP_COMMAND_FAILED') with the command and stderr. */
export function runIp(args: readonly string[], timeoutMs = IP_COMMAND_TIMEOUT_MS): Promise<string> {
  const command = `ip ${args.join(' ')}`;
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: timeoutMs, killSignal: 'SIGKILL', encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err === null) {
        resolve(stdout);
        return;
      }
      const code = (err as NodeJS.ErrnoException).code;
      let why: string;
      if (code === 'ENOENT') why = 'the `ip` command was not found: install iproute2';
      else if (err.killed) why = `timed out after ${timeoutMs} ms`;
      else why = `exit ${String(code)}: ${stderr.trim() || err.message}`;
      reject(new TunError('IP_COMMAND_FAILED', `${command} failed: ${why}`, { syscall: command, cause: err }));
    });
  });
}
