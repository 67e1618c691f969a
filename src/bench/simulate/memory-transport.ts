// The in-memory transport of the simulation: a PeerApi (mesh/peer-api.ts) that hands each
// request to the target node's real Membership after a virtual network latency, through the
// real Pacer, and counts what a real node would have put on the wire. What it leaves out, and
// why: TLS, the HTTP framing and the tokens' cryptography (per message constants, measured on
// the real code by simulate.ts and added to the byte counts), and session set-up (init_session
// runs once per pair and session_max_age, RSA bound; the bench's real nodes measure it).
import { PeerRefused, type PeerApi, type PeerTarget, type RequestOptions, type Signed, type TokenMode } from '../../mesh/peer-api.js';
import { PeerUnreachable } from '../../mesh/http-client.js';
import { Pacer } from '../../mesh/pacer.js';
import type { Membership } from '../../mesh/membership.js';
import type { Registry } from '../../mesh/registry.js';
import type { LocalIdentity } from '../../mesh/identity.js';
import type { InitSessionRequest, InitSessionResponse, NodeInfo, Registration } from '../../mesh/types.js';
import { CONTROL_REQUESTS_IN_FLIGHT, NEW_LINK_REQUESTS_IN_FLIGHT } from '../../node/control-plane.js';
import type { VirtualClock } from './virtual-clock.js';

/** A node as the network sees it: reachable at its URL while up. */
export interface SimEndpoint {
  identity: LocalIdentity;
  registry: Registry;
  membership: Membership;
  up: boolean;
}

/** What one node sent (requests) and received (answers), for the traffic figures. */
export interface Traffic {
  messages: number;
  bytes: number;
}

export interface NetworkOptions {
  clock: VirtualClock;
  /** One-way latency (seconds). */
  latency: number;
  /** Bytes a real request or answer carries besides its JSON body (auth header, HTTP head), measured. */
  messageOverhead: number;
}

export class SimNetwork {
  private readonly byUrl = new Map<string, SimEndpoint>();
  /** JSON size of each NodeInfo (the same objects travel in every list). */
  private readonly infoBytes = new WeakMap<NodeInfo, number>();

  constructor(readonly opts: NetworkOptions) {}

  attach(node: SimEndpoint): void {
    this.byUrl.set(node.identity.info.listen_url, node);
  }

  /** The transport one node sends through; its traffic is counted in `traffic`. */
  apiFor(self: LocalIdentity, traffic: Traffic): PeerApi {
    return new MemoryPeerApi(this, self, traffic, new Pacer({ limit: CONTROL_REQUESTS_IN_FLIGHT, growLimit: NEW_LINK_REQUESTS_IN_FLIGHT }));
  }

  /** The node at `url` after one latency; refused (as a closed port) when none is up there. */
  async reach(url: string): Promise<SimEndpoint> {
    await this.opts.clock.sleep(this.opts.latency);
    const node = this.byUrl.get(url);
    if (!node?.up) throw new PeerUnreachable(url, 'connect ECONNREFUSED');
    return node;
  }

  async answerDelay(): Promise<void> {
    await this.opts.clock.sleep(this.opts.latency);
  }

  registrationBytes(reg: Registration): number {
    let n = 40 + this.sizeOf(reg.local);
    for (const info of reg.remote) n += this.sizeOf(info) + 1;
    return n;
  }

  private sizeOf(info: NodeInfo): number {
    let n = this.infoBytes.get(info);
    if (n === undefined) {
      n = JSON.stringify(info).length;
      this.infoBytes.set(info, n);
    }
    return n;
  }
}

class MemoryPeerApi implements PeerApi {
  constructor(
    private readonly net: SimNetwork,
    private readonly self: LocalIdentity,
    private readonly traffic: Traffic,
    private readonly pacer: Pacer,
  ) {}

  nodeInfo(url: string, opts: RequestOptions = {}): Promise<{ id: string; listen_url: string }> {
    return this.pacer.run(opts.lane ?? 'grow', async () => {
      this.count(0);
      const node = await this.net.reach(url);
      await this.net.answerDelay();
      return { id: node.identity.id, listen_url: node.identity.info.listen_url };
    });
  }

  register(peer: PeerTarget, reg: Registration, mode: TokenMode, opts: RequestOptions = {}): Promise<Signed<Registration>> {
    return this.pacer.run(opts.lane ?? (mode === 'session' ? 'keep' : 'grow'), async () => {
      this.count(this.net.registrationBytes(reg));
      const node = await this.net.reach(peer.url);
      if (node.identity.id !== peer.id && mode === 'session') throw new PeerRefused(peer.url, 401, 'unknown sender key');
      // A session token from a node the peer no longer knows is refused as the real API does.
      if (mode === 'session' && !node.registry.get(this.self.id)) throw new PeerRefused(peer.url, 404, 'unknown sender');
      const answer = node.membership.receive(this.self.id, this.self.capabilities, reg);
      await this.net.answerDelay();
      this.traffic.bytes += this.net.registrationBytes(answer) + this.net.opts.messageOverhead;
      return { value: answer, capabilities: node.identity.capabilities };
    });
  }

  initSession(_peer: PeerTarget, _req: InitSessionRequest, _mode: TokenMode): Promise<Signed<InitSessionResponse>> {
    return Promise.reject(new Error('sessions are not simulated (memory-transport.ts)'));
  }

  private count(bodyBytes: number): void {
    this.traffic.messages++;
    this.traffic.bytes += bodyBytes + this.net.opts.messageOverhead;
  }
}
