// Typed errors of the data plane: each carries the drop reason it is counted under.
import type { DropReason } from './drop-reasons.js';

export class DataPlaneError extends Error {
  constructor(
    readonly reason: DropReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DataPlaneError';
  }
}

/** Raised when the fast-path upgrade is refused or broken; `status` is the peer's HTTP status, if any. */
export class ChannelError extends Error {
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ChannelError';
  }
}
