// IPv6 on the TUN device, when the node has an IPv6 address (tunmesh/networking/ipv6).
//
// The device is a point-to-point link into the mesh, not a LAN: nothing answers NDP or router
// solicitations on it, and the mesh never carries link-scoped packets (route-table.ts drops
// fe80::/10 and ff02::/16 as `link_local`). So before the link goes up:
//   addrgenmode none      no link-local address (netlink: `ip link set ... addrgenmode none`);
//                         without one the kernel sends no router solicitations either;
//   `nodad`               no duplicate address detection: the registry decides who owns an
//                         address, and DAD would only delay it;
//   accept_ra 0, router_solicitations 0, accept_dad 0   the same in the device's sysctls.
// The sysctls are best effort: containers often mount /proc/sys read-only, and the netlink
// settings above already do the work. What the kernel still sends toward link-scoped
// destinations (MLD reports, say) is dropped and counted as `link_local`, never forwarded.
import { existsSync, writeFileSync } from 'node:fs';
import { TunError } from './errors.js';
import { ipv6CidrString, ipv6Equal, ipv6NetworkString, ipv6ToString, type Ipv6Cidr } from './ipv6.js';

export interface Ipv6Setup {
  address: Ipv6Cidr;
  /** The whole IPv6 mesh network, routed into the device. */
  route: Ipv6Cidr;
}

const SYSCTLS: ReadonlyArray<[string, string]> = [
  ['disable_ipv6', '0'],
  ['accept_ra', '0'],
  ['router_solicitations', '0'],
  ['accept_dad', '0'],
];

/**
 * Before link up: IPv6 on, no link-local address, our address (`runIp`: device.ts's bounded
 * `ip`). Returns the step to run once the link is up (the route of the whole IPv6 mesh network,
 * when wider than the address's prefix).
 */
export async function enableIpv6(name: string, v6: Ipv6Setup, runIp: (args: string[]) => Promise<unknown>): Promise<() => Promise<void>> {
  if (!existsSync('/proc/sys/net/ipv6')) {
    throw new TunError('IP_COMMAND_FAILED', 'an IPv6 address is configured (tunmesh.networking.ipv6) but this kernel has IPv6 disabled (ipv6.disable=1?)');
  }
  for (const [key, value] of SYSCTLS) trySysctl(name, key, value);
  await runIp(['link', 'set', 'dev', name, 'addrgenmode', 'none']);
  try {
    await runIp(['-6', 'addr', 'replace', ipv6CidrString(v6.address), 'dev', name, 'nodad']);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new TunError(
      'IP_COMMAND_FAILED',
      `cannot give ${name} its IPv6 address (tunmesh.networking.ipv6.node_address_cidr): ${why}; ` +
        'if IPv6 is disabled in this network namespace, enable it (sysctl net.ipv6.conf.all.disable_ipv6=0 and ' +
        'net.ipv6.conf.default.disable_ipv6=0; in Kubernetes, the pod\'s securityContext.sysctls)',
      { cause: err },
    );
  }
  return async () => {
    if (v6.route.prefix === v6.address.prefix && ipv6Equal(v6.route.network, v6.address.network)) return;
    // `src`: locally originated mesh traffic carries our mesh address.
    await runIp(['-6', 'route', 'replace', ipv6NetworkString(v6.route), 'dev', name, 'src', ipv6ToString(v6.address.address)]);
  };
}

/** Best effort: a read-only /proc/sys (containers) leaves the kernel's defaults. */
function trySysctl(name: string, key: string, value: string): void {
  try {
    writeFileSync(`/proc/sys/net/ipv6/conf/${name}/${key}`, value);
  } catch {
    // the netlink settings and the `link_local` drop cover what this would have silenced
  }
}
