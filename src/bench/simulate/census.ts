// Whether the simulated mesh is whole, kept up to date from the registries' own events instead
// of scanning N registries of N entries each virtual second (O(N^2): 10^6 lookups a second at
// 1000 nodes). Per node that is up: how many up peers its registry holds, and how many entries
// for killed nodes are still held anywhere.
export class Census {
  private readonly up = new Set<string>();
  private readonly dead = new Set<string>();
  /** Up node id -> up peers in its registry. */
  private readonly knows = new Map<string, number>();
  private deadHeld = 0;

  /** Registry event of an up node `holder`: it added `peer`. */
  added(holder: string, peer: string): void {
    if (!this.up.has(holder)) return;
    if (this.up.has(peer)) this.knows.set(holder, (this.knows.get(holder) ?? 0) + 1);
    else if (this.dead.has(peer)) this.deadHeld++;
  }

  /** Registry event of an up node `holder`: it removed `peer`. */
  removed(holder: string, peer: string): void {
    if (!this.up.has(holder)) return;
    if (this.up.has(peer)) this.knows.set(holder, (this.knows.get(holder) ?? 0) - 1);
    else if (this.dead.has(peer)) this.deadHeld--;
  }

  /** A node started (it knows no one yet). */
  started(id: string): void {
    this.up.add(id);
    this.knows.set(id, 0);
  }

  /**
   * Nodes killed: from now on their entries count as dead ones. `holdersOf(id)` lists the up
   * nodes whose registry holds `id` (one scan per kill, not per second).
   */
  killed(ids: string[], holdersOf: (id: string) => string[]): void {
    for (const id of ids) {
      this.up.delete(id);
      this.knows.delete(id);
      this.dead.add(id);
    }
    for (const id of ids) {
      for (const holder of holdersOf(id)) {
        if (!this.up.has(holder)) continue;
        this.knows.set(holder, (this.knows.get(holder) ?? 0) - 1);
        this.deadHeld++;
      }
    }
  }

  /** Every up node knows every other up node. */
  full(): boolean {
    const others = this.up.size - 1;
    for (const n of this.knows.values()) if (n !== others) return false;
    return true;
  }

  /** No up node holds a killed one. */
  groomed(): boolean {
    return this.deadHeld === 0;
  }

  /** "links known / links of a full mesh, entries of killed nodes held", for progress lines. */
  describe(): string {
    let known = 0;
    for (const n of this.knows.values()) known += n;
    return `${known}/${this.up.size * (this.up.size - 1)} links known, ${this.deadHeld} entries of killed nodes held`;
  }
}
