// The recording file of one worker of `umbra run --workers N`: "v2.jsonl" → "v2-w0.jsonl", so each
// process rotates files of its own and a replacement worker continues its slot's files.

export function workerFile(path: string, index: string): string {
  const dot = path.endsWith('.jsonl') ? path.length - '.jsonl'.length : path.length;
  return `${path.slice(0, dot)}-w${index}${path.slice(dot)}`;
}
