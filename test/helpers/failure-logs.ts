// A mocha root hook: when a test fails while labs are alive, print the end of each lab node's
// log, so a failure seen only on CI (where the lab folder is gone) still says what the nodes did.
import type { Context } from 'mocha';
import { openLabs } from '../../src/lab/mesh-lab.js';

/** Nodes per lab and characters per node: enough for the last seconds of a small lab. */
const NODES_SHOWN = 6;
const CHARS_PER_NODE = 4000;

export const mochaHooks = {
  afterEach(this: Context): void {
    if (this.currentTest?.state !== 'failed') return;
    for (const lab of openLabs()) {
      for (const node of lab.nodes.slice(0, NODES_SHOWN)) {
        process.stderr.write(`\n----- log of node ${node.index} (${node.kind}), last ${CHARS_PER_NODE} chars, after "${this.currentTest.title}" -----\n`);
        process.stderr.write(`${lab.logTail(node.index, CHARS_PER_NODE)}\n`);
      }
    }
  },
};
