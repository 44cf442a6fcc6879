// JSON text exactly as the kennethreitz/httpbin image prints it (Flask 1.x jsonify, pretty-printed):
// sorted keys, two-space indent, Python's ", " item separator (so lines end in ", "), ASCII-only
// escapes, one trailing newline. Matching it byte for byte keeps access-log sizes equal to the seed's.

export type PyJson =
  null | boolean | number | string | readonly PyJson[] | { readonly [key: string]: PyJson };

/** `json.dumps(value, indent=2, separators=(', ', ': '), sort_keys=True) + "\n"`. */
export function pythonJson(value: PyJson): string {
  return encode(value, '') + '\n';
}

function encode(value: PyJson, indent: string): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return pyString(value);
  if (typeof value === 'number') return pyNumber(value);
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  const inner = indent + '  ';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const items = value.map((v: PyJson) => encode(v, inner));
    return `[\n${inner}${items.join(`, \n${inner}`)}\n${indent}]`;
  }
  const obj = value as { readonly [key: string]: PyJson };
  const keys = Object.keys(obj).sort();
  if (keys.length === 0) return '{}';
  const items = keys.map((k) => `${pyString(k)}: ${encode(obj[k], inner)}`);
  return `{\n${inner}${items.join(`, \n${inner}`)}\n${indent}}`;
}

function pyNumber(n: number): string {
  // Python writes NaN/Infinity literally; JSON.parse never yields them, so this only guards misuse.
  if (!Number.isFinite(n)) return Number.isNaN(n) ? 'NaN' : n > 0 ? 'Infinity' : '-Infinity';
  return JSON.stringify(n);
}

const SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

/** ensure_ascii: everything outside printable ASCII becomes \uXXXX (UTF-16 units, so pairs for astral). */
function pyString(s: string): string {
  if (!/[^\x20-\x7e]|["\\]/.test(s)) return `"${s}"`;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    const code = s.charCodeAt(i);
    if (code >= 0x20 && code <= 0x7e && ch !== '"' && ch !== '\\') out += ch;
    else out += SHORT_ESCAPES[ch] ?? `\\u${code.toString(16).padStart(4, '0')}`;
  }
  return out + '"';
}
