// The one request-path normalisation, applied once when the target is parsed, so that route
// matching, rewrites, redirects, the primary and every mirror copy see the very same path.
//
// Modes follow Istio's MeshConfig.ProxyPathNormalization, which drives Envoy's normalize_path /
// merge_slashes (istio.io: "Authorization Policy Normalization", "Security Best Practices"):
//  - 'base' (Istio's default, and Umbra's): percent-encoded unreserved characters (ALPHA, DIGIT,
//    "-", ".", "_", "~") are decoded once — never twice; "%00" is refused (400); "\" becomes "/";
//    "." and ".." segments are resolved (RFC 3986 §5.2.4). "%2F" and "%5C" stay encoded, and
//    repeated slashes stay, so "//host/path" is the path "//host/path" on the Host-chosen upstream.
//  - 'merge-slashes': 'base', then runs of "/" become one.
//  - 'decode-and-merge-slashes': "%2F"/"%5C" are decoded first, then 'merge-slashes'.
//  - 'none': the path is forwarded exactly as received.
// The query string is never touched. Other percent-escapes keep their original spelling.

export type PathNormalization = 'none' | 'base' | 'merge-slashes' | 'decode-and-merge-slashes';

export const PATH_NORMALIZATIONS: readonly PathNormalization[] = [
  'none',
  'base',
  'merge-slashes',
  'decode-and-merge-slashes',
];

/** Returns the normalised path, or undefined when the path must be refused (400). */
export type PathNormalizer = (path: string) => string | undefined;

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  if (c >= 65 && c <= 70) return c - 55; // A-F
  if (c >= 97 && c <= 102) return c - 87; // a-f
  return -1;
}

function isUnreserved(b: number): boolean {
  return (
    (b >= 65 && b <= 90) ||
    (b >= 97 && b <= 122) ||
    (b >= 48 && b <= 57) ||
    b === 45 ||
    b === 46 ||
    b === 95 ||
    b === 126
  );
}

/** One pass over %HH escapes; undefined on %00. */
function decodeEscapes(path: string, decodeSlashes: boolean): string | undefined {
  let out = '';
  let from = 0;
  for (let i = path.indexOf('%'); i !== -1 && i + 2 < path.length; i = path.indexOf('%', i + 1)) {
    const hi = hexValue(path.charCodeAt(i + 1));
    const lo = hexValue(path.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) continue; // not an escape: kept as written
    const b = hi * 16 + lo;
    if (b === 0) return undefined;
    if (isUnreserved(b) || (decodeSlashes && (b === 0x2f || b === 0x5c))) {
      out += path.slice(from, i) + String.fromCharCode(b);
      from = i + 3;
      i += 2;
    }
  }
  return from === 0 ? path : out + path.slice(from);
}

/** RFC 3986 §5.2.4 on an absolute path ("/" first). */
function removeDotSegments(path: string): string {
  const segs = path.split('/');
  const out: string[] = [];
  const last = segs.length - 1;
  for (let i = 1; i <= last; i++) {
    const s = segs[i];
    if (s === '.' || s === '..') {
      if (s === '..') out.pop();
      if (i === last) out.push(''); // "/a/b/.." → "/a/"
      continue;
    }
    out.push(s);
  }
  return `/${out.join('/')}`;
}

function mergeSlashes(path: string): string {
  return path.includes('//') ? path.replace(/\/{2,}/g, '/') : path;
}

export function pathNormalizer(mode: PathNormalization): PathNormalizer {
  if (mode === 'none') return (p) => p;
  const merge = mode !== 'base';
  const decodeSlashes = mode === 'decode-and-merge-slashes';
  return (path) => {
    // Fast path: nothing that any step would change (the common case, checked without allocating).
    if (
      path.indexOf('%') === -1 &&
      path.indexOf('\\') === -1 &&
      path.indexOf('/.') === -1 &&
      (!merge || path.indexOf('//') === -1)
    )
      return path;
    let p = decodeEscapes(path, decodeSlashes);
    if (p === undefined) return undefined;
    if (p.indexOf('\\') !== -1) p = p.replace(/\\/g, '/');
    if (p.indexOf('/.') !== -1) p = removeDotSegments(p);
    return merge ? mergeSlashes(p) : p;
  };
}
