// Line difference of two texts, for bodies that are neither JSON nor binary: the first differing
// line (for the report) and a bounded line-by-line diff (for the sample viewer).

export interface LineOp {
  /** '=' same on both sides, '-' only in the primary, '+' only in the other, '…' lines skipped. */
  readonly op: '=' | '-' | '+' | '…';
  readonly text: string;
}

/** Longest-common-subsequence tables above this many cells are not built; the block is replaced. */
const MAX_CELLS = 250_000;
const CONTEXT = 2;

export function splitLines(s: string): string[] {
  const lines = s.split('\n');
  if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** Index of the first line that differs, or -1 when the texts are equal line by line. */
export function firstDifferentLine(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/** Line diff with unchanged runs folded to CONTEXT lines around each change; at most maxOps entries. */
export function lineDiff(aText: string, bText: string, maxOps = 400): LineOp[] {
  const a = splitLines(aText);
  const b = splitLines(bText);
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const ops: LineOp[] = [];
  for (let i = 0; i < start; i++) ops.push({ op: '=', text: a[i] });
  ops.push(...middle(a.slice(start, endA), b.slice(start, endB)));
  for (let i = endA; i < a.length; i++) ops.push({ op: '=', text: a[i] });
  return fold(ops, maxOps);
}

function middle(a: string[], b: string[]): LineOp[] {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0 || n * m > MAX_CELLS)
    return [
      ...a.map((text) => ({ op: '-' as const, text })),
      ...b.map((text) => ({ op: '+' as const, text })),
    ];
  // lcs[i][j] = length of the LCS of a[i:] and b[j:], in one flat array.
  const w = m + 1;
  const lcs = new Uint32Array((n + 1) * w);
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i * w + j] =
        a[i] === b[j] ? lcs[(i + 1) * w + j + 1] + 1 : Math.max(lcs[(i + 1) * w + j], lcs[i * w + j + 1]);
  const out: LineOp[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) {
      out.push({ op: '=', text: a[i++] });
      j++;
    } else if (lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) out.push({ op: '-', text: a[i++] });
    else out.push({ op: '+', text: b[j++] });
  }
  while (i < n) out.push({ op: '-', text: a[i++] });
  while (j < m) out.push({ op: '+', text: b[j++] });
  return out;
}

function fold(ops: LineOp[], maxOps: number): LineOp[] {
  const keep = new Uint8Array(ops.length);
  ops.forEach((o, i) => {
    if (o.op === '=') return;
    for (let k = Math.max(0, i - CONTEXT); k <= Math.min(ops.length - 1, i + CONTEXT); k++) keep[k] = 1;
  });
  const out: LineOp[] = [];
  let skipped = 0;
  for (let i = 0; i < ops.length && out.length < maxOps; i++) {
    if (keep[i]) {
      if (skipped) out.push({ op: '…', text: `${skipped} unchanged line${skipped === 1 ? '' : 's'}` });
      skipped = 0;
      out.push(ops[i]);
    } else skipped++;
  }
  if (skipped && out.length < maxOps)
    out.push({ op: '…', text: `${skipped} unchanged line${skipped === 1 ? '' : 's'}` });
  return out;
}
