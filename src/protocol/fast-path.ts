// tunmesh's own wire names for the fast path, beside the original's routes (original-routes.ts):
// a node that speaks the fast path upgrades an HTTPS connection on the API port or the channel
// port with `GET <FAST_PATH_ROUTE><sender id>` and one of these Upgrade tokens. An original node
// knows none of them; tunmesh asks for them only of a peer whose signed claim announced them.
// The handshake that uses them is dataplane/fast/handshake.ts; the frames after it,
// dataplane/fast/frames.ts.

/** The route of the upgrade: `GET /tunmesh/fastpath/v1/<sender id>`. */
export const FAST_PATH_ROUTE = '/tunmesh/fastpath/v1/';
/** The Upgrade token of v1 frames (every tunmesh fast path). */
export const FAST_PATH_UPGRADE = 'tunmesh-fastpath/1';
/** The same route with v2 frames (offloads), asked only of a peer that announced `offload`. */
export const FAST_PATH_UPGRADE_V2 = 'tunmesh-fastpath/2';
