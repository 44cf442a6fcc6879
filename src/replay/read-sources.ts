// Reads the files given to `umbra replay`: each is an Umbra recording or a HAR file (told apart
// by content, not by name), merged into one list in recorded time order.

import { readFile } from 'node:fs/promises';
import { readHar } from './read-har.js';
import { readRecording } from './read-recording.js';
import type { ReadResult, ReplayRequest } from './replay-request.js';

/** A HAR file is one JSON object with a "log" member; a recording is one object per line. */
export function looksLikeHar(text: string): boolean {
  const head = text.slice(0, 4096).trimStart();
  if (!head.startsWith('{')) return false;
  const firstLine = head.split('\n', 1)[0].trim();
  // A recording's first line is a whole object with "time" and "method"; a HAR's is "{" or '{"log": …'.
  try {
    const v = JSON.parse(firstLine) as Record<string, unknown>;
    return typeof v === 'object' && v !== null && 'log' in v;
  } catch {
    return /^\{\s*("log"|$)/.test(firstLine);
  }
}

export async function readSources(files: readonly string[]): Promise<ReadResult> {
  const requests: ReplayRequest[] = [];
  const problems: ReadResult['problems'] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      problems.push({ file, line: 0, message: `cannot read: ${(e as Error).message}` });
      continue;
    }
    const r = looksLikeHar(text) ? readHar(text, file) : readRecording(text, file);
    requests.push(...r.requests);
    problems.push(...r.problems);
  }
  // Stable: requests recorded in the same millisecond keep their file order.
  requests.sort((a, b) => a.time - b.time);
  return { requests, problems };
}
