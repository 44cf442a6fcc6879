// Decides how a response body is compared — JSON field by field, text as text, anything else by
// size and hash — and undoes Content-Encoding first, so gzip'd bodies are compared by content.

import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';

export type Headers = Readonly<Record<string, string | string[] | undefined>>;
export type BodyKind = 'json' | 'text' | 'binary';

export function headerValue(h: Headers, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/** "application/json; charset=utf-8" → "application/json". */
export function mediaType(h: Headers): string {
  const ct = headerValue(h, 'content-type') ?? '';
  return ct.split(';')[0].trim().toLowerCase();
}

const TEXT_TYPES =
  /^(text\/|application\/(xml|javascript|ecmascript|x-www-form-urlencoded|yaml|x-yaml|graphql|xhtml\+xml)$)|\+xml$/;
const JSON_TYPES = /^application\/(json|[\w.+-]*\+json|x-ndjson|problem\+json)$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** True when the bytes are valid UTF-8 with no NUL (a cheap "is this text?" for untyped bodies). */
export function looksLikeText(b: Buffer): boolean {
  if (b.includes(0)) return false;
  try {
    utf8.decode(b);
    return true;
  } catch {
    return false;
  }
}

/** JSON by media type; text by media type or content; binary otherwise. */
export function bodyKind(type: string, body: Buffer): BodyKind {
  if (JSON_TYPES.test(type)) return 'json';
  if (TEXT_TYPES.test(type)) return 'text';
  if (type === '' || type === 'application/octet-stream') {
    if (!looksLikeText(body)) return 'binary';
    const first = body.toString('utf8', 0, Math.min(body.length, 64)).trimStart()[0];
    return first === '{' || first === '[' ? 'json' : 'text';
  }
  return 'binary';
}

/**
 * Undoes gzip, deflate or br; returns the body unchanged when there is no encoding and undefined
 * when it cannot be decoded within `maxOut` bytes (then the raw bytes are compared).
 */
export function decodeBody(body: Buffer, h: Headers, maxOut: number): Buffer | undefined {
  const enc = (headerValue(h, 'content-encoding') ?? '').trim().toLowerCase();
  if (enc === '' || enc === 'identity') return body;
  const opts = { maxOutputLength: Math.max(maxOut, 1) };
  try {
    if (enc === 'gzip' || enc === 'x-gzip') return gunzipSync(body, opts);
    if (enc === 'br') return brotliDecompressSync(body, opts);
    if (enc === 'deflate') {
      try {
        return inflateSync(body, opts);
      } catch {
        return inflateRawSync(body, opts); // some servers send raw deflate (RFC 9110 §8.4.1.2 notes it)
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}
