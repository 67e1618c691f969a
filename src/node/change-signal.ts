// The control plane's one signal that what the data plane routes by (peers, sessions) changed.
// The control plane is built before the phases that react to it (the address claim, the
// data-plane publication), so those subscribe when they start instead of the control plane
// taking callbacks that are reassigned later.
export class ChangeSignal {
  private readonly listeners = new Set<() => void>();

  /** Registry and session changes call this. */
  readonly fire = (): void => {
    for (const listener of this.listeners) listener();
  };

  /** Returns the unsubscribe. */
  listen(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
