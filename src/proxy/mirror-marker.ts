// The loop-protection marker on copies (`x-umbra-mirror`) and the proof that Umbra set it. A copy
// carries the policy name and an HMAC of the current minute under a per-run secret; a request is
// taken for a copy only when the proof checks out, so a client can neither forge the marker to hide
// its traffic from mirroring nor see it forwarded to a primary (request-headers.ts drops both).

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Marks a copy so that another Umbra never mirrors it again (loop protection). */
export const MIRROR_MARKER = 'x-umbra-mirror';
/** HMAC-SHA256(secret, minute window), base64url: proves the marker came from an Umbra of this run. */
export const MIRROR_PROOF = 'x-umbra-mirror-proof';

/**
 * The run's secret. Set once in the first process of a run and inherited by its workers through
 * the environment; Umbras that chain (one mirroring into another) recognise each other's copies
 * when they are given the same UMBRA_MIRROR_SECRET.
 */
function runSecret(): string {
  const given = process.env.UMBRA_MIRROR_SECRET;
  if (given) return given;
  const s = randomBytes(24).toString('base64url');
  process.env.UMBRA_MIRROR_SECRET = s;
  return s;
}

/** Taken when this module loads, so a primary process fixes it before it forks its workers. */
const RUN_SECRET = runSecret();

/** How long one proof stands (ms); a proof is accepted in its own window and in the two beside it. */
export const PROOF_WINDOW_MS = 60_000;

export class MirrorMarker {
  /** Proofs of the windows around the current one, computed once per window, not once per copy. */
  private window = Number.NaN;
  private current = '';
  private accepted: readonly Buffer[] = [];

  constructor(
    private readonly secret: string = RUN_SECRET,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * HMAC-SHA256(secret, window number), base64url, where the window number counts PROOF_WINDOW_MS
   * from the epoch. It does not depend on the request: an HMAC of each copy's request id cost about
   * 2.5 µs a copy (3 % of a mirrored request's CPU) and protected nothing more, because Umbra keeps
   * a client's x-request-id, so a leaked (id, proof) pair could be replayed with that id for ever.
   * A leaked window proof stops working within three windows.
   */
  proof(): string {
    this.refresh();
    return this.current;
  }

  /**
   * True when the request is a copy made by an Umbra sharing this secret: its proof is that of the
   * current window or of one beside it (a copy crossing a window's end, clocks a little apart).
   */
  isCopy(headers: Readonly<Record<string, string | string[] | undefined>>): boolean {
    const marker = headers[MIRROR_MARKER];
    const proof = headers[MIRROR_PROOF];
    if (marker === undefined || typeof proof !== 'string') return false;
    this.refresh();
    const got = Buffer.from(proof);
    let ok = false;
    // Every candidate is compared, in constant time each, whatever matched first.
    for (const want of this.accepted) if (got.length === want.length && timingSafeEqual(got, want)) ok = true;
    return ok;
  }

  private refresh(): void {
    const w = Math.floor(this.now() / PROOF_WINDOW_MS);
    if (w === this.window) return;
    this.window = w;
    this.current = this.mac(w);
    this.accepted = [w - 1, w, w + 1].map((x) => Buffer.from(x === w ? this.current : this.mac(x)));
  }

  private mac(window: number): string {
    return createHmac('sha256', this.secret).update(String(window)).digest('base64url');
  }
}
