// The node runtime settings of Umbra's container image — deploy/Dockerfile's ENV and ENTRYPOINT
// flags — which `npm run bench` runs Umbra (and the node floor) with by default.
// test/deploy/manifests.test.ts holds the Dockerfile to these values.

/** The node major of the image (deploy/Dockerfile's node:24-bookworm-slim): its full runs are the recorded ones. */
export const IMAGE_NODE_MAJOR = 24;

/** node flags before Umbra's script (README "Memory" has what each one measured). */
export const IMAGE_NODE_FLAGS: readonly string[] = [
  // A 2 MiB young generation instead of V8's 16 or more.
  '--max-semi-space-size=2',
  // Node 24's mid-tier compiler held ~20 MiB after load for no steady-state gain (no-op on Node 20).
  '--no-maglev',
  // Grow the old generation by a fixed 1.5 × the live size after each full collection, instead of
  // V8's dynamic factor (up to 4 ×) that let garbage pile up between collections of a small heap.
  '--heap-growing-percent=50',
  // No allocation-site pretenuring: V8 otherwise moves a site's allocations straight to the old
  // generation once most of them survive a scavenge, and a proxy's sites (request headers, parser
  // state) are such sites whenever some of their objects wait on a slow upstream or an in-flight
  // copy — every later request's objects then become old-generation garbage and full collections
  // come two to three times as often (README "Memory").
  '--no-allocation-site-pretenuring',
];

/** glibc malloc settings (environment variables read by glibc at process start). */
export const IMAGE_ENV: Readonly<Record<string, string>> = {
  // One arena for every thread instead of one per thread: V8's compiler and GC threads each kept
  // their own arena's freed memory resident.
  MALLOC_ARENA_MAX: '1',
  // Blocks of 128 KiB or more (V8's compiler zones) are mmapped and returned when freed; glibc's
  // default threshold rises as such blocks are freed, after which they stay in the heap.
  MALLOC_MMAP_THRESHOLD_: '131072',
};

/** How a node contender is started: its flags and the environment variables added to the runner's. */
export interface NodeRuntime {
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}
