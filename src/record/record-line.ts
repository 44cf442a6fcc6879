// The recording format (issue 16): one JSON object per line, one line per copied request. Written
// by the copy recorder and read back by `umbra replay`; docs/record-replay.md documents it.

/** One recorded request, as it is written on its line. */
export interface RecordLine {
  /** When the copy was admitted, RFC 3339 UTC with milliseconds ("2026-12-06T23:59:01.123Z"). */
  readonly time: string;
  /** The x-request-id the copy carried. */
  readonly requestId: string;
  /** The mirror that admitted the copy ("app.default|v2"). */
  readonly mirror: string;
  readonly method: string;
  /** The copy's Host/authority (after the shadow suffix or the policy's authority rule). */
  readonly authority: string;
  /** Path with query, as the copy was sent. */
  readonly path: string;
  /** The copy's headers in order, as [name, value] pairs (Host is in `authority`, not here). */
  readonly headers: readonly (readonly [string, string])[];
  /** Bytes the request body had (also when only part of it is kept). */
  readonly bodyLength: number;
  /** The kept body bytes, base64; "" when there is no body. */
  readonly body: string;
  /** The body was longer than the record's limit: `body` holds only its first bytes. */
  readonly truncated: boolean;
}

/** RFC 3339 with milliseconds in UTC: what Date.toISOString gives. */
export function recordTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** Serialises one record as its line (with the newline). */
export function formatRecordLine(
  r: Omit<RecordLine, 'body' | 'bodyLength'>,
  body: readonly Buffer[],
  bodyLength: number,
): string {
  const kept = body.length === 0 ? '' : Buffer.concat(body as Buffer[]).toString('base64');
  // Field order is fixed (time first) so a line stays readable with grep and head.
  const line: RecordLine = {
    time: r.time,
    requestId: r.requestId,
    mirror: r.mirror,
    method: r.method,
    authority: r.authority,
    path: r.path,
    headers: r.headers,
    bodyLength,
    body: kept,
    truncated: r.truncated,
  };
  return `${JSON.stringify(line)}\n`;
}
