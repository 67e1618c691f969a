// The reasons a packet is dropped: the label values of tunmesh_dropped_packets_total (every one
// has a series from the start, so a rate() of a reason that never happened reads 0, not nothing).
// Defined beside the code that drops (send, receive, the transports) and its counters (metrics.ts).

/** Why a packet was dropped: the original's reasons plus tunmesh's own. */
export const DROP_REASONS = [
  'node_close',
  'expired',
  'exception',
  'unsupported',
  'loopback',
  'config_prohibited',
  'outside_configured_network',
  'no_route',
  'no_return_route',
  'misrouted',
  'route_conflict',
  'tun_issue',
  'queue_full',
  'oversized',
  'malformed',
  'no_session',
  // IPv6 (tunmesh only): link-scoped traffic (fe80::/10, ff02::/16: NDP, MLD, router
  // solicitations) is never carried; an original node never gets an IPv6 packet.
  'link_local',
  'ipv6_to_original',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];
