// Cross-field rules of the IPv6 overlay (tunmesh/networking/ipv6): both keys or neither, the
// node address inside the network and usable as a unicast mesh address, and an MTU IPv6 can
// use (RFC 8200: links carry at least 1280 bytes).
import { IPV6_MIN_MTU, ipv6CidrWithin, tryParseIpv6Cidr, unusableNodeAddressReason } from '../tun/ipv6.js';
import type { ConfigProblem } from './errors.js';
import type { RawDocument } from './schema.js';
import { showValue } from './shape.js';
import { IPV6_DERIVE_MAX_PREFIX } from './allocate.js';

const KEY = 'tunmesh/networking/ipv6';

export function checkIpv6Rules(raw: RawDocument, problems: ConfigProblem[]): void {
  const { network_cidr: networkText, node_address_cidr: nodeText, allocate } = raw.tunmesh.networking.ipv6;
  const hasNetwork = typeof networkText === 'string' && networkText !== '';
  const hasNode = typeof nodeText === 'string' && nodeText !== '';
  if (allocate) return checkDerived(raw, problems);
  if (hasNetwork !== hasNode) {
    const [missing, present] = hasNode ? ['network_cidr', 'node_address_cidr'] : ['node_address_cidr', 'network_cidr'];
    problems.push({ path: `${KEY}/${missing}`, message: `is required when ${KEY}/${present} is set (both or neither)` });
    return;
  }
  if (!hasNode) return;
  const network = tryParseIpv6Cidr(networkText as string);
  const node = tryParseIpv6Cidr(nodeText as string);
  if (network === null || node === null) return; // the format already said why
  const unusable = unusableNodeAddressReason(node.address);
  if (unusable !== undefined) {
    problems.push({ path: `${KEY}/node_address_cidr`, message: `must be a unicast address routable in the mesh, got ${unusable} ${showValue(nodeText)}` });
  } else if (!ipv6CidrWithin(network, node)) {
    problems.push({ path: `${KEY}/node_address_cidr`, message: `must lie inside ${KEY}/network_cidr (${networkText}), got ${showValue(nodeText)}` });
  }
  checkMtu(raw, problems);
}

function checkMtu(raw: RawDocument, problems: ConfigProblem[]): void {
  const mtu = raw.tunmesh.networking.mtu;
  if (typeof mtu === 'number' && mtu < IPV6_MIN_MTU) {
    problems.push({ path: 'tunmesh/networking/mtu', message: `must be at least ${IPV6_MIN_MTU} with IPv6 (RFC 8200 minimum link MTU), got ${mtu}` });
  }
}

/** allocate: a network with room for an IPv4 address, and no node address of its own. */
function checkDerived(raw: RawDocument, problems: ConfigProblem[]): void {
  const { network_cidr: networkText, node_address_cidr: nodeText } = raw.tunmesh.networking.ipv6;
  if (typeof nodeText === 'string' && nodeText !== '') problems.push({ path: `${KEY}/node_address_cidr`, message: `must be left out with ${KEY}/allocate (the address is derived from the IPv4 one), got ${showValue(nodeText)}` });
  if (typeof networkText !== 'string' || networkText === '') return void problems.push({ path: `${KEY}/network_cidr`, message: `is required with ${KEY}/allocate` });
  const network = tryParseIpv6Cidr(networkText);
  if (network !== null && network.prefix > IPV6_DERIVE_MAX_PREFIX) {
    problems.push({ path: `${KEY}/network_cidr`, message: `must be a /${IPV6_DERIVE_MAX_PREFIX} or shorter with ${KEY}/allocate (32 bits for the IPv4 address), got ${showValue(networkText)}` });
  }
  checkMtu(raw, problems);
}
