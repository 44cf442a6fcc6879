// Consistent-hash lookup tables for DestinationRule `consistentHash`: a Ketama-style ring (Istio's
// default, `ringHash.minimumRingSize`) and a Maglev table (`maglev.tableSize`). Built once per
// cluster at translation time; a key keeps its endpoint when other endpoints come and go.

/** Picks an endpoint index for a key hash; `usable` skips ejected endpoints (walking on). */
export interface HashTable {
  readonly kind: 'ring' | 'maglev';
  /** Number of entries (ring points or Maglev slots), for config dumps and tests. */
  readonly size: number;
  /** Endpoint index for `hash`, or -1 when no endpoint (or none usable) exists. */
  lookup(hash: number, usable?: (index: number) => boolean): number;
}

/** Envoy's defaults: a ring of at least 1024 points; a Maglev table of 65537 slots (prime). */
export const DEFAULT_MIN_RING_SIZE = 1024;
export const MAX_RING_SIZE = 8 * 1024 * 1024;
export const DEFAULT_MAGLEV_SIZE = 65537;

/**
 * A well-mixed 32-bit string hash: FNV-1a over UTF-16 code units, then MurmurHash3's finaliser,
 * so near-identical keys ("user-1", "user-2") land far apart on the ring.
 */
export function hashKey(s: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

class Ring implements HashTable {
  readonly kind = 'ring';
  constructor(
    private readonly points: Uint32Array,
    private readonly owners: Int32Array,
  ) {}

  get size(): number {
    return this.points.length;
  }

  lookup(hash: number, usable?: (index: number) => boolean): number {
    const n = this.points.length;
    if (n === 0) return -1;
    // First point at or after the hash, wrapping around (binary search).
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid] < hash) lo = mid + 1;
      else hi = mid;
    }
    const start = lo === n ? 0 : lo;
    if (!usable) return this.owners[start];
    // Walking clockwise past unusable owners gives the same answer as a ring rebuilt without them.
    for (let k = 0; k < n; k++) {
      const owner = this.owners[(start + k) % n];
      if (usable(owner)) return owner;
    }
    return -1;
  }
}

/**
 * A ring of at least `minimumSize` points shared evenly among the endpoints; each point hashes
 * "<identity>_<n>", so an endpoint's points never depend on the others. Points per endpoint are
 * rounded up to a power of two: within a band the ring of the survivors of a removal is exactly
 * the old ring minus the removed points, so no other key moves (Envoy divides exactly and moves a few).
 */
export function buildRing(identities: readonly string[], minimumSize = DEFAULT_MIN_RING_SIZE): HashTable {
  const n = identities.length;
  if (n === 0) return new Ring(new Uint32Array(0), new Int32Array(0));
  let perHost = 1;
  while (perHost * n < minimumSize && perHost * 2 * n <= MAX_RING_SIZE) perHost *= 2;
  const entries: { h: number; owner: number }[] = [];
  for (let i = 0; i < n; i++)
    for (let j = 0; j < perHost; j++) entries.push({ h: hashKey(`${identities[i]}_${j}`), owner: i });
  // Ties broken by identity so the order never depends on the list order.
  entries.sort((a, b) => a.h - b.h || (identities[a.owner] < identities[b.owner] ? -1 : 1));
  const points = new Uint32Array(entries.length);
  const owners = new Int32Array(entries.length);
  entries.forEach((e, i) => {
    points[i] = e.h;
    owners[i] = e.owner;
  });
  return new Ring(points, owners);
}

class Maglev implements HashTable {
  readonly kind = 'maglev';
  constructor(private readonly table: Int32Array) {}

  get size(): number {
    return this.table.length;
  }

  lookup(hash: number, usable?: (index: number) => boolean): number {
    const m = this.table.length;
    if (m === 0) return -1;
    const at = hash % m;
    const first = this.table[at];
    if (!usable || usable(first)) return first;
    for (let k = 1; k < m; k++) {
      const owner = this.table[(at + k) % m];
      if (usable(owner)) return owner;
    }
    return -1;
  }
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/**
 * Maglev (Eisenbud et al., NSDI 2016): each endpoint walks its own permutation of the table
 * (offset and skip from two hashes of its identity) and takes turns claiming free slots, so the
 * table is evenly shared and changes little when the endpoint set changes. `size` must be prime.
 */
export function buildMaglev(identities: readonly string[], size = DEFAULT_MAGLEV_SIZE): HashTable {
  const n = identities.length;
  const m = isPrime(size) ? size : DEFAULT_MAGLEV_SIZE;
  if (n === 0) return new Maglev(new Int32Array(0));
  const offset = identities.map((id) => hashKey(id, 0x9e3779b9) % m);
  const skip = identities.map((id) => (hashKey(id, 0x7f4a7c15) % (m - 1)) + 1);
  const next = new Array<number>(n).fill(0);
  const table = new Int32Array(m).fill(-1);
  // Turns are taken in identity order, so the table does not depend on how endpoints were listed.
  const order = identities
    .map((_, i) => i)
    .sort((a, b) => (identities[a] < identities[b] ? -1 : identities[a] > identities[b] ? 1 : a - b));
  let filled = 0;
  for (;;) {
    for (const i of order) {
      let c = (offset[i] + next[i] * skip[i]) % m;
      while (table[c] >= 0) {
        next[i]++;
        c = (offset[i] + next[i] * skip[i]) % m;
      }
      table[c] = i;
      next[i]++;
      if (++filled === m) return new Maglev(table);
    }
  }
}

export { isPrime };
