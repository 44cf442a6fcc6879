// The loop-protection marker on copies (`x-umbra-mirror`) and the proof that Umbra set it. A copy
// carries the policy name and an HMAC of its request id under a per-run secret; a request is taken
// for a copy only when the proof checks out, so a client can neither forge the marker to hide its
// traffic from mirroring nor see it forwarded to a primary (request-headers.ts drops both).

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** Marks a copy so that another Umbra never mirrors it again (loop protection). */
export const MIRROR_MARKER = 'x-umbra-mirror';
/** HMAC-SHA256(secret, request id), base64url: proves the marker came from an Umbra of this run. */
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

export class MirrorMarker {
  constructor(private readonly secret: string = runSecret()) {}

  proof(requestId: string): string {
    return createHmac('sha256', this.secret).update(requestId).digest('base64url');
  }

  /** True when the request is a copy made by an Umbra sharing this secret. */
  isCopy(headers: Readonly<Record<string, string | string[] | undefined>>): boolean {
    const marker = headers[MIRROR_MARKER];
    const proof = headers[MIRROR_PROOF];
    const id = headers['x-request-id'];
    if (marker === undefined || typeof proof !== 'string' || typeof id !== 'string') return false;
    const want = Buffer.from(this.proof(id));
    const got = Buffer.from(proof);
    return got.length === want.length && timingSafeEqual(got, want);
  }
}
