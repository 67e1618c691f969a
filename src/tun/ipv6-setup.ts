// IPv6 on the TUN device, when the node has an IPv6 address (tunmesh/networking/ipv6).
//
// The device is a point-to-point link into the mesh, not a LAN: nothing answers NDP or router
// solicitations on it, and the mesh never carries link-scoped packets (route-table.ts drops
// fe80::/10 and ff02::/16 as `link_local`). So before the link goes up:
//   addr_gen_mode 1       no link-local address is made (nothing link-local to talk to);
//   accept_ra 0, router_solicitations 0   no router discovery (routes are ours, static);
//   accept_dad 0 (+ `nodad`)   no duplicate address detection: the mesh's address owner is
//                         decided by the registry, and DAD would only delay the address.
// What the kernel still sends toward link-scoped destinations (MLD reports, say) is dropped and
// counted as `link_local`, never forwarded.
import { writeFileSync } from 'node:fs';
import { TunError } from './errors.js';
import { ipv6CidrString, ipv6Equal, ipv6NetworkString, ipv6ToString, type Ipv6Cidr } from './ipv6.js';

export interface Ipv6Setup {
  address: Ipv6Cidr;
  /** The whole IPv6 mesh network, routed into the device. */
  route: Ipv6Cidr;
}

const SYSCTLS: ReadonlyArray<[string, string]> = [
  ['disable_ipv6', '0'],
  ['addr_gen_mode', '1'],
  ['accept_ra', '0'],
  ['router_solicitations', '0'],
  ['accept_dad', '0'],
];

/**
 * Before link up: IPv6 on, the sysctls above, our address (`runIp`: device.ts's bounded `ip`).
 * Returns the step to run once the link is up (the route of the whole IPv6 mesh network, when
 * wider than the address's prefix).
 */
export async function enableIpv6(name: string, v6: Ipv6Setup, runIp: (args: string[]) => Promise<unknown>): Promise<() => Promise<void>> {
  for (const [key, value] of SYSCTLS) writeSysctl(name, key, value);
  await runIp(['-6', 'addr', 'replace', ipv6CidrString(v6.address), 'dev', name, 'nodad']);
  return async () => {
    if (v6.route.prefix === v6.address.prefix && ipv6Equal(v6.route.network, v6.address.network)) return;
    // `src`: locally originated mesh traffic carries our mesh address.
    await runIp(['-6', 'route', 'replace', ipv6NetworkString(v6.route), 'dev', name, 'src', ipv6ToString(v6.address.address)]);
  };
}

function writeSysctl(name: string, key: string, value: string): void {
  const path = `/proc/sys/net/ipv6/conf/${name}/${key}`;
  try {
    writeFileSync(path, value);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'IPv6 is disabled on this host (or in this network namespace)' : `cannot write ${path}: ${code ?? String(err)}`;
    throw new TunError('IP_COMMAND_FAILED', `an IPv6 address is configured (tunmesh.networking.ipv6) but ${why}`, { cause: err });
  }
}
