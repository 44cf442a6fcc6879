// Parses "host:port" / ":port" / "port" command-line addresses.

export function parseAddress(text: string, defaultHost = '127.0.0.1'): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*))?:?(\d+)$/.exec(text.trim());
  if (!m) throw new Error(`"${text}" is not an address (expected HOST:PORT)`);
  const host = m[1] ?? (m[2] || defaultHost);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`"${text}": port out of range`);
  return { host, port };
}
