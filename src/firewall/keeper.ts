// The firewall keeper: a child the main process forks while still root (node/run.ts), which
// stays root when main drops to its uid, so that rules can follow the mesh (peers join, rules
// reload). It takes only KeeperRequests over the IPC channel and runs only `nft` with scripts it
// rendered itself from checked data (nft.ts), and reads one file: the config it was started
// with (argv[2]), which main read as root at start and may no longer read. When main goes away (stop, crash) it removes the
// table, so no rules outlive the node, and exits.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { KeeperAnswer, KeeperRequest } from './keeper-contract.js';
import { parseCounters, renderRemoval, renderSets, renderTable, tableOf } from './nft.js';

/** Bound on one nft run (a table of hundreds of rules loads in milliseconds). */
const NFT_TIMEOUT_MS = 10_000;

function nft(args: string[], input?: string): string {
  const r = spawnSync('nft', args, { input, encoding: 'utf8', timeout: NFT_TIMEOUT_MS });
  if (r.error !== undefined) throw new Error(`cannot run nft: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`nft refused the rules: ${(r.stderr || r.stdout).trim().split('\n').slice(0, 3).join(' | ')}`);
  return r.stdout;
}

function serve(req: KeeperRequest): KeeperAnswer {
  if (req.type === 'table') nft(['-f', '-'], renderTable(req.ruleset));
  else if (req.type === 'sets') nft(['-f', '-'], renderSets(req.ruleset));
  else if (req.type === 'remove') nft(['-f', '-'], renderRemoval(req.device));
  else if (req.type === 'read_config') return { id: req.id, ok: true, text: readFileSync(CONFIG_PATH, 'utf8') };
  else return { id: req.id, ok: true, counters: Object.fromEntries(parseCounters(nft(['-j', 'list', 'counters', 'table', ...tableOf(req.device).split(' ')]))) };
  return { id: req.id, ok: true };
}

const CONFIG_PATH = process.argv[2] ?? '';
let device: string | null = null;

process.on('message', (msg: KeeperRequest) => {
  let answer: KeeperAnswer;
  try {
    answer = serve(msg);
    if (msg.type === 'table') device = msg.ruleset.device;
    if (msg.type === 'remove') device = null;
  } catch (err) {
    answer = { id: typeof msg?.id === 'number' ? msg.id : -1, ok: false, error: err instanceof Error ? err.message : String(err) };
  }
  process.send?.(answer);
});

process.on('disconnect', () => {
  try {
    if (device !== null) nft(['-f', '-'], renderRemoval(device));
  } finally {
    process.exit(0);
  }
});
// SIGTERM/SIGINT go to the whole process group on Ctrl-C: main decides when we stop.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
