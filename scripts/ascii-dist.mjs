// Rewrites the compiled JavaScript under a folder (default dist/) to ASCII, escaping every other
// character as \uXXXX. V8 keeps each module's source text in the heap for lazy compilation, and a
// source with even one non-Latin-1 character (a "—" or "→" in a comment) is held two bytes per
// character: measured, ~0.6 MiB of a worker's resting heap (README "Memory").
//
// An escape means the same character in every place compiled code can hold one: string and
// template literals, regular expressions (with or without the u flag, where an escaped surrogate
// pair is one code point: ECMA-262 RegExpUnicodeEscapeSequence), identifiers, and comments. The
// exceptions (a template's raw text, a backslash already before the character) are refused.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Each UTF-16 code unit above 0x7f as a \uXXXX escape (astral characters as their surrogate pair). */
export function toAscii(text) {
  return text.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The .js files under `dir`, recursively. */
function jsFiles(dir) {
  return readdirSync(dir, { recursive: true })
    .filter((name) => name.endsWith('.js'))
    .map((name) => join(dir, name));
}

/** Rewrites the files under `dir` that hold non-ASCII text; returns how many it rewrote. */
export function asciiDist(dir) {
  let changed = 0;
  for (const file of jsFiles(dir)) {
    const text = readFileSync(file, 'utf8');
    if (!/[\u0080-\uffff]/.test(text)) continue;
    // A backslash before the character (an identity escape) would turn the escape into a literal
    // backslash; a raw template's text would change. Neither is in Umbra's code: refuse, never guess.
    if (/String\.raw|\\[\u0080-\uffff]/.test(text))
      throw new Error(`${file}: escaping would change its meaning`);
    writeFileSync(file, toAscii(text));
    changed++;
  }
  return changed;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  asciiDist(resolve(process.argv[2] ?? 'dist'));
}
