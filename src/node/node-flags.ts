// Node flags of the main process. V8 sizes its heap when the process starts (v8.setFlagsFromString
// comes too late for these), so they go on node's command line: the Dockerfile's ENTRYPOINT, the
// Kubernetes example, the `tunmesh` bin's shebang, the test lab and the benchmark pass them
// (test/unit/docs.test.ts keeps the first three in step with this list).
//
// --max-semi-space-size=1  V8's young generation stays at 2 x 1 MiB instead of growing to
//   2 x 16 MiB. The control plane and the receive path allocate little that survives a scavenge,
//   so a bigger nursery only holds garbage for longer: with it the main process is ~10 MB smaller
//   idle and ~15 MB smaller after sustained traffic, at the same fast-path throughput
//   (docs/operations.md, "Sizing"). Workers need none: their heap stays small on its own, and no
//   V8 flag tried (semi-space, --single-threaded, --optimize-for-size, pool size) made a
//   measurable difference there (--lite-mode saves only pages shared with main, at a throughput risk).
export const MAIN_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];
