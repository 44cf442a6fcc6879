// Groups requests by endpoint: the method and a path template in which segments that look like
// identifiers (numbers, UUIDs, hex ids, long opaque tokens) become placeholders.

const NUMBER = /^-?\d+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** 8+ hex digits with at least one digit, so words such as "deadbeef"… are not mistaken too often. */
const HEX = /^(?=[a-f]*\d)[0-9a-f]{8,}$/i;
/** Long opaque tokens (base64url ids, hashes): 20+ characters mixing letters and digits. */
const TOKEN = /^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9_=-]{20,}$/;

const MAX_SEGMENTS = 16;

function segmentTemplate(s: string): string {
  if (NUMBER.test(s)) return '{n}';
  if (UUID.test(s)) return '{uuid}';
  if (HEX.test(s)) return '{hex}';
  if (TOKEN.test(s)) return '{token}';
  return s;
}

/** "/users/42/orders/9f1c2d3e4b" → "/users/{n}/orders/{hex}"; the query is not part of it. */
export function pathTemplate(path: string): string {
  const q = path.indexOf('?');
  const p = q === -1 ? path : path.slice(0, q);
  const parts = p.split('/');
  const tail = parts.length > MAX_SEGMENTS + 1 ? '/…' : '';
  return (
    parts
      .slice(0, MAX_SEGMENTS + 1)
      .map(segmentTemplate)
      .join('/') + tail || '/'
  );
}

export function endpointTemplate(method: string, path: string): string {
  return `${method} ${pathTemplate(path)}`;
}
