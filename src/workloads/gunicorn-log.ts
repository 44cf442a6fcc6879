// gunicorn's default access-log line (`%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"`)
// plus ` host=<Host>`, so the built-in workload logs like the seed's httpbin and shows `-shadow` hosts.

export interface AccessLogEntry {
  readonly remoteAddress: string;
  /** Raw Authorization header: gunicorn logs the user name of Basic credentials. */
  readonly authorization?: string;
  readonly time: Date;
  /** `GET /headers HTTP/1.1`, with the request target as received. */
  readonly requestLine: string;
  readonly status: number;
  /** Body bytes sent. */
  readonly bytes: number;
  readonly referer?: string;
  readonly userAgent?: string;
  readonly host?: string;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const two = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** `[07/Mar/2018:19:02:43 +0000]`; always UTC, as in the seed's containers. */
export function gunicornTime(d: Date): string {
  return (
    `[${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000]`
  );
}

function basicUser(authorization: string | undefined): string {
  if (!authorization || !/^basic /i.test(authorization)) return '-';
  const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return (colon === -1 ? decoded : decoded.slice(0, colon)) || '-';
}

export function formatAccessLine(e: AccessLogEntry): string {
  return (
    `${e.remoteAddress || '-'} - ${basicUser(e.authorization)} ${gunicornTime(e.time)} ` +
    `"${e.requestLine}" ${e.status} ${e.bytes} "${e.referer || '-'}" "${e.userAgent || '-'}"` +
    ` host=${e.host || '-'}`
  );
}
