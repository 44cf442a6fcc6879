// What `umbra replay` sends: one request read from a recording or a HAR file, whatever its source
// format, plus the problems found while reading (each with its file and line).

export interface ReplayRequest {
  /** Where it was read from, for messages ("rec.jsonl:12"). */
  readonly file: string;
  readonly line: number;
  /** When it was recorded, ms since the epoch (pacing with --speed). */
  readonly time: number;
  readonly method: string;
  /** The recorded Host/authority. */
  readonly authority: string;
  /** Path with query. */
  readonly path: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body: Buffer;
  /** Only the first bytes of the body were recorded. */
  readonly truncated: boolean;
  /** The recorded request id, when there is one. */
  readonly requestId?: string;
}

export interface ReadProblem {
  readonly file: string;
  readonly line: number;
  readonly message: string;
}

export interface ReadResult {
  readonly requests: ReplayRequest[];
  readonly problems: ReadProblem[];
}

export function formatProblem(p: ReadProblem): string {
  return `${p.file}:${p.line}: ${p.message}`;
}

/** RFC 9110 token: what a method or header name may be made of. */
export const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
