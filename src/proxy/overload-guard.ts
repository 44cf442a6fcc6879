// The overload guard, in the spirit of Envoy's overload manager: two resources are sampled on a
// timer — V8 heap in use against the heap limit, and the event loop's delay — and each has a
// threshold per action. Copies are shed first (mirroring is optional work), new connections are
// refused at a higher threshold; primaries already accepted are always served. The data plane only
// reads two booleans; everything else happens once per sampling interval.

import { performance } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';

/** Reads the two resources; replaced in tests by readings they control. */
export type OverloadReader = () => OverloadReading;

export interface OverloadOptions {
  /** Heap size the heap pressure is measured against, in bytes; 0 = V8's heap limit. */
  readonly maxHeapBytes: number;
  /** Heap pressure (used / max, 0–1) at which new copies are dropped; 0 disables. */
  readonly heapShedCopies: number;
  /** Heap pressure at which new connections are refused; 0 disables. */
  readonly heapRefuseConnections: number;
  /** Event-loop delay (ms, the longest in a sampling interval) at which copies are dropped; 0 disables.
   *  The delay is measured (a 10 ms probe timer) only when one of the two delay thresholds is set. */
  readonly loopDelayShedCopiesMs: number;
  /** Event-loop delay (ms) at which new connections are refused; 0 disables. */
  readonly loopDelayRefuseConnectionsMs: number;
  /** How often the resources are sampled (Envoy's refresh_interval, default 1 s there). */
  readonly intervalMs: number;
  /** Where readings come from (default: this process's heap and event loop); tests set their own. */
  readonly reader?: OverloadReader;
}

/**
 * Defaults: heap thresholds on (a flood would otherwise grow the heap until V8 aborts the process),
 * event-loop delay off — how long a loop may stall before shedding helps depends on the host (a
 * shared 2-core machine stalls for hundreds of ms without being overloaded), so it is opt-in.
 */
export const DEFAULT_OVERLOAD: OverloadOptions = {
  maxHeapBytes: 0,
  heapShedCopies: 0.85,
  heapRefuseConnections: 0.95,
  loopDelayShedCopiesMs: 0,
  loopDelayRefuseConnectionsMs: 0,
  intervalMs: 250,
};

export type OverloadAction = 'shed_copies' | 'refuse_connections';
export type OverloadResource = 'heap' | 'event_loop_delay';

/** What one sample read: heap bytes in use and the longest loop delay since the previous sample. */
export interface OverloadReading {
  readonly heapUsedBytes: number;
  readonly heapLimitBytes: number;
  readonly loopDelayMs: number;
}

export interface OverloadSnapshot extends OverloadReading {
  /** used / max, 0–1 (may exceed 1 with a --overload-max-heap below what is in use). */
  readonly heapPressure: number;
  readonly shedCopies: boolean;
  readonly refuseConnections: boolean;
  /** Which resource triggered each active action. */
  readonly causes: Partial<Record<OverloadAction, OverloadResource>>;
  readonly copiesShed: number;
  readonly connectionsRefused: number;
  /** Times each action turned on since start. */
  readonly activations: Record<OverloadAction, number>;
}

/**
 * Heap from V8; loop delay from a probe timer's lateness (the longest since the previous read), only
 * when `probeLoop` (a loop-delay threshold is set). Not perf_hooks' monitorEventLoopDelay: resetting
 * its histogram between reads discards the next delta, which is the stall itself when the stall
 * delayed the reading too.
 */
export function processReader(
  probeLoop: boolean,
  resolutionMs = 10,
): { read: OverloadReader; stop: () => void } {
  let maxLate = 0;
  let due = performance.now() + resolutionMs;
  const probe = probeLoop
    ? setInterval(() => {
        const now = performance.now();
        if (now - due > maxLate) maxLate = now - due;
        due = now + resolutionMs;
      }, resolutionMs).unref()
    : undefined;
  return {
    read() {
      const s = getHeapStatistics();
      // A stall still in progress shows as the probe's current lateness.
      const late = Math.max(maxLate, probe ? performance.now() - due : 0);
      maxLate = 0;
      return { heapUsedBytes: s.used_heap_size, heapLimitBytes: s.heap_size_limit, loopDelayMs: late };
    },
    stop: () => clearInterval(probe),
  };
}

export class OverloadGuard {
  /** In effect: new copies are dropped (see refuseCopy). */
  shedCopies = false;
  /** In effect: new connections are closed unanswered (see refuseConnection). */
  refuseConnections = false;
  copiesShed = 0;
  connectionsRefused = 0;
  readonly activations: Record<OverloadAction, number> = { shed_copies: 0, refuse_connections: 0 };
  private causes: Partial<Record<OverloadAction, OverloadResource>> = {};
  private last: OverloadReading = { heapUsedBytes: 0, heapLimitBytes: 0, loopDelayMs: 0 };
  private timer?: NodeJS.Timeout;
  private stopReader?: () => void;
  private reader?: OverloadReader;
  readonly options: OverloadOptions;

  constructor(o: Partial<OverloadOptions> = {}) {
    this.options = { ...DEFAULT_OVERLOAD, ...o };
    this.reader = o.reader;
  }

  /** The mirror writer's refuseCopies hook: true drops this copy, and counts it. */
  readonly refuseCopy = (): boolean => {
    if (!this.shedCopies) return false;
    this.copiesShed++;
    return true;
  };

  /** The listeners' refuseConnections hook: true closes this new connection, and counts it. */
  readonly refuseConnection = (): boolean => {
    if (!this.refuseConnections) return false;
    this.connectionsRefused++;
    return true;
  };

  /** Starts sampling (with the process reader unless one was given). Unref'd: never keeps a process alive. */
  start(): this {
    if (this.timer) return this;
    if (!this.reader) {
      const o = this.options;
      const r = processReader(o.loopDelayShedCopiesMs > 0 || o.loopDelayRefuseConnectionsMs > 0);
      this.reader = r.read;
      this.stopReader = r.stop;
    }
    this.timer = setInterval(() => this.sample(), this.options.intervalMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.stopReader?.();
    this.stopReader = undefined;
  }

  /** One sample: reads the resources and sets the actions. Called by the timer; public for tests. */
  sample(): OverloadSnapshot {
    const r = (this.last = this.reader ? this.reader() : this.last);
    const o = this.options;
    const pressure = this.heapPressure(r);
    const cause = (heapAt: number, delayAt: number): OverloadResource | undefined =>
      heapAt > 0 && pressure >= heapAt
        ? 'heap'
        : delayAt > 0 && r.loopDelayMs >= delayAt
          ? 'event_loop_delay'
          : undefined;
    const copies = cause(o.heapShedCopies, o.loopDelayShedCopiesMs);
    // Refusing connections implies shedding copies: copies always go first.
    const conns = cause(o.heapRefuseConnections, o.loopDelayRefuseConnectionsMs);
    const shed = copies !== undefined || conns !== undefined;
    const refuse = conns !== undefined;
    if (shed && !this.shedCopies) this.activations.shed_copies++;
    if (refuse && !this.refuseConnections) this.activations.refuse_connections++;
    this.shedCopies = shed;
    this.refuseConnections = refuse;
    this.causes = {
      ...(shed ? { shed_copies: copies ?? conns } : {}),
      ...(refuse ? { refuse_connections: conns } : {}),
    };
    return this.snapshot();
  }

  snapshot(): OverloadSnapshot {
    return {
      ...this.last,
      heapPressure: this.heapPressure(this.last),
      shedCopies: this.shedCopies,
      refuseConnections: this.refuseConnections,
      causes: { ...this.causes },
      copiesShed: this.copiesShed,
      connectionsRefused: this.connectionsRefused,
      activations: { ...this.activations },
    };
  }

  private heapPressure(r: OverloadReading): number {
    const max = this.options.maxHeapBytes > 0 ? this.options.maxHeapBytes : r.heapLimitBytes;
    return max > 0 ? r.heapUsedBytes / max : 0;
  }
}
