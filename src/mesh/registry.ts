// The set of known nodes and the address table (mesh address -> node id).
// Plain state: callers (membership.ts) decide when to add, refresh and groom; this file keeps
// the invariants (one owner per address, a restarted node replaces its old id) and tells
// listeners when the routing view changes.
import type { NodeInfo } from './types.js';
import { MeshError } from './errors.js';
import { FaultTracker } from './fault-tracker.js';
import { AuthError } from '../auth/errors.js';
import type { Capabilities } from './capabilities.js';

export type PeerScope = 'local' | 'mesh';

export interface RemoteNode {
  info: NodeInfo;
  /** From its signed token claim; null: an original node. */
  capabilities: Capabilities | null;
  scope: PeerScope;
  /** When we first learned the node (seconds). */
  since: number;
  /** Last registration received from it, or answered by it (seconds). */
  lastHeard: number;
  /** Last registration we sent it that it accepted (seconds); 0 = never. */
  lastSent: number;
  faults: FaultTracker;
  /** Duration of the last registration round trip to it (seconds), if any. */
  rttSeconds?: number;
  /** When our next re-registration to it is due (seconds; jittered so a mesh's do not align). */
  dueAt: number;
  /** A last patient registration went to it after it fell silent; it is dropped if that fails. */
  probed: boolean;
  /** Our registrations it refused in a row at the connection (nothing listens there). */
  refusals: number;
  /** Registry version of the view it last got from us (-1: never: send it whole), and when it last got it whole (seconds). */
  viewSent: number;
  fullViewAt: number;
  /** Registry version its addition made (what a peer that has an older view has not been told). */
  addedIn: number;
}

export interface RegistryEvents {
  added(node: RemoteNode): void;
  removed(node: RemoteNode, why: string): void;
  changed(): void;
}

export class Registry {
  /** Nodes never to learn or keep (the deny list); set by the node. */
  refuses: (id: string) => boolean = () => false;
  private readonly nodes = new Map<string, RemoteNode>();
  private readonly addresses = new Map<string, string>(); // node address (no prefix) -> id
  private changes = 0;

  constructor(
    private readonly scopeOf: (info: NodeInfo) => PeerScope,
    /** Backoff after failed re-registrations, by scope (seconds). */
    private readonly faultBackoff: (scope: PeerScope) => { base: number; max: number },
    private readonly events: RegistryEvents,
  ) {}

  get(id: string): RemoteNode | undefined {
    return this.nodes.get(id);
  }

  all(): RemoteNode[] {
    return [...this.nodes.values()];
  }

  get size(): number {
    return this.nodes.size;
  }

  /** Grows whenever a node is added or removed: a peer that got our view at this version has it still. */
  get version(): number {
    return this.changes;
  }

  /** The nodes added after registry version `version` (a peer that has that view lacks just these). */
  addedSince(version: number): RemoteNode[] {
    const added: RemoteNode[] = [];
    for (const node of this.nodes.values()) if (node.addedIn > version) added.push(node);
    return added;
  }

  /** Any authenticated request from a known node shows it alive (grooming acts on real silence only). */
  touch(id: string, now: number): void {
    const node = this.nodes.get(id);
    if (!node) return;
    node.lastHeard = Math.max(node.lastHeard, now);
    node.probed = false;
    node.refusals = 0;
  }

  ownerOf(address: string): string | undefined {
    return this.addresses.get(address);
  }

  /**
   * Refuses a token without the capability claim from a node that has signed with it before:
   * ids are per process, so a tunmesh node never turns into an original one. Whoever strips the
   * claim breaks the MAC; only a key holder could send such a token, and it is refused here too.
   */
  checkCapabilities(id: string, capabilities: Capabilities | null): void {
    if (capabilities === null && this.nodes.get(id)?.capabilities) {
      throw new AuthError('downgrade', `node ${id} announced tunmesh capabilities before and now signs without them`);
    }
  }

  /** Learn or refresh a node from a registration it sent or answered (its token's capabilities). */
  heardFrom(info: NodeInfo, capabilities: Capabilities | null, now: number): RemoteNode {
    if (this.refuses(info.id)) throw new AuthError('denied', `node ${info.id} is on the deny list`);
    const known = this.nodes.get(info.id);
    if (known) {
      if (known.info.node_addresses.ipv4.cidr !== info.node_addresses.ipv4.cidr) {
        throw new MeshError('conflict', `Node ${info.id} changed its node address`);
      }
      this.checkCapabilities(info.id, capabilities);
      // Its IPv6 address (signed claim) is fixed for its life like the IPv4 one (config, per process).
      if (known.capabilities?.ipv6 !== undefined && capabilities?.ipv6 !== known.capabilities.ipv6) {
        throw new MeshError('conflict', `Node ${info.id} changed its IPv6 address`);
      }
      const upgraded = known.capabilities === null && capabilities !== null;
      known.info = info;
      known.capabilities = capabilities;
      known.lastHeard = now;
      known.probed = false;
      known.refusals = 0;
      if (upgraded) this.events.changed(); // its data path may change
      return known;
    }
    this.replaceRestarted(info);
    const scope = this.scopeOf(info);
    const backoff = this.faultBackoff(scope);
    const node: RemoteNode = {
      info,
      capabilities,
      scope,
      since: now,
      lastHeard: now,
      lastSent: 0,
      faults: new FaultTracker(backoff.base, backoff.max),
      dueAt: 0,
      probed: false,
      refusals: 0,
      viewSent: -1,
      fullViewAt: 0,
      addedIn: this.changes + 1,
    };
    this.changes++;
    this.nodes.set(info.id, node);
    this.claimAddress(node);
    this.events.added(node);
    this.events.changed();
    return node;
  }

  remove(id: string, why: string): void {
    const node = this.nodes.get(id);
    if (!node) return;
    this.nodes.delete(id);
    this.changes++;
    const address = addressOf(node.info);
    if (this.addresses.get(address) === id) this.addresses.delete(address);
    this.events.removed(node, why);
    this.events.changed();
  }

  /** A restarted node keeps its listen URL but has a new id: its old entry goes at once. */
  private replaceRestarted(info: NodeInfo): void {
    for (const old of this.nodes.values()) {
      if (old.info.listen_url === info.listen_url && old.info.id !== info.id) this.remove(old.info.id, `restarted as ${info.id}`);
    }
  }

  /** A new node claiming an address replaces the old owner (as the original, logged by the listener). */
  private claimAddress(node: RemoteNode): void {
    const address = addressOf(node.info);
    const previous = this.addresses.get(address);
    if (previous && previous !== node.info.id) this.remove(previous, `address ${address} claimed by ${node.info.id}`);
    this.addresses.set(address, node.info.id);
  }
}

export function addressOf(info: NodeInfo): string {
  return info.node_addresses.ipv4.cidr.split('/')[0] as string;
}
