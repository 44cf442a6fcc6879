// What the admin API may show of a resource: everything but the content of Secrets. A Secret's
// keys stay visible with their sizes (as `kubectl describe secret` shows them), never the values.

export const REDACTED = 'REDACTED';

function sizes(m: unknown, decode: boolean): Record<string, string> | undefined {
  if (typeof m !== 'object' || m === null) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
    const n = typeof v === 'string' ? (decode ? Buffer.from(v, 'base64').length : Buffer.byteLength(v)) : 0;
    out[k] = `${REDACTED} (${n} bytes)`;
  }
  return out;
}

/** A plain object (applied-store `plain`) with Secret data replaced by sizes. */
export function redacted(kind: string, obj: Record<string, unknown>): Record<string, unknown> {
  if (kind !== 'Secret') return obj;
  const out: Record<string, unknown> = { ...obj };
  if (obj.data != null) out.data = sizes(obj.data, true);
  if (obj.stringData != null) out.stringData = sizes(obj.stringData, false);
  return out;
}
