// The HTTP routes of the original Tun Mesh v0.7, the one list that the API serves (api/routes/)
// and the peer client calls (mesh/peer-api.ts, dataplane/legacy-sender.ts, lab/). Paths are the
// original's, byte for byte: an original node answers only these. A route "for a sender" takes
// the sender's node id as its last segment (session-token requests); without it the request
// carries the cluster token (first contact).
//
// The fast path's upgrade (`GET /tunmesh/fastpath/v1/<id>`, `Upgrade: tunmesh-fastpath/1|2`) is
// tunmesh's own protocol and has its own constants (fast-path.ts).

const CONTROL = '/tunmesh/control/v0';
const AUTH = '/tunmesh/auth/v0';

/** Every node-to-node route of the original starts with this (the client-certificate gate guards it). */
export const TUNMESH_ROUTES_PREFIX = '/tunmesh/';

/** GET, no token: the node's id and listen URL. */
export const NODE_INFO = `${CONTROL}/node_info`;
/** POST: a registration; with the cluster token, or for a sender with a session token. */
export const REGISTER = `${CONTROL}/registrations/register`;
/** GET for a sender, session token: known nodes and the address table (open in the original). */
export const REGISTRATIONS = `${CONTROL}/registrations`;
/** POST: the session key exchange; with the cluster token, or for a sender with a session token. */
export const INIT_SESSION = `${AUTH}/init_session`;
/** POST for a sender, session token: one Packet JSON; `<route>/batch`: an array of them. */
export const PACKET_RX = `${CONTROL}/packet/rx`;
/** The suffix of the batched packet route. */
export const BATCH = '/batch';

/** Health of the node's components (the original's JSON), and tunmesh's liveness and readiness. */
export const HEALTH = '/health';
export const HEALTH_LIVE = '/health/live';
export const HEALTH_READY = '/health/ready';
/** Prometheus exposition. */
export const METRICS = '/metrics';

/** The Koa pattern of a route for a sender: the id lands in `ctx.params.sender_id`. */
export const SENDER_PARAM = ':sender_id';

/** A route for one sender: `<route>/<node id>`. */
export function forSender(route: string, senderId: string): string {
  return `${route}/${senderId}`;
}
