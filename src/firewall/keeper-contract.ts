// Main <-> keeper: the keeper is the one process that stays root after the node drops its
// privileges, and it does one thing: renders a Ruleset main sends (nft.ts checks every field)
// and hands it to nft. Requests carry an id; every answer names it.
import type { Ruleset } from './ruleset.js';

export type KeeperRequest =
  /** Replace the whole table (start, rule reload). */
  | { id: number; type: 'table'; ruleset: Ruleset }
  /** Refill the address sets only (peers changed). */
  | { id: number; type: 'sets'; ruleset: Ruleset }
  | { id: number; type: 'counters'; device: string }
  | { id: number; type: 'remove'; device: string }
  /** The node's config file (its path fixed when the keeper was forked): often root's alone, and the rules live in it. */
  | { id: number; type: 'read_config' };

export type KeeperAnswer =
  | { id: number; ok: true; counters?: Record<string, number>; text?: string }
  | { id: number; ok: false; error: string };
