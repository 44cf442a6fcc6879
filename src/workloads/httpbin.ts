// The built-in httpbin-compatible demo workload (node:http only): serves httpbin-routes on a port,
// reads every body to its end, and writes one gunicorn-style access-log line per request plus ` host=`.

import { http } from '../runtime/node-http.js';
import type { AddressInfo } from 'node:net';
import { formatAccessLine } from './gunicorn-log.js';
import { ECHO_LIMIT, HttpbinRequest, readBody, remoteAddress } from './httpbin-request.js';
import { findRoute, respond, text, type Exchange } from './httpbin-routes.js';

export { HTTPBIN_LIMITS, httpbinRoutes } from './httpbin-routes.js';

export interface HttpbinOptions {
  /** Address to listen on; default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  /** Shown on the landing page (e.g. "httpbin-v1"). */
  name?: string;
  /** Receives each access-log line (without newline); default: stdout. */
  log?: (line: string) => void;
}

export interface Httpbin {
  readonly url: string;
  readonly port: number;
  readonly name: string;
  /** Requests received so far (counted when their headers arrive). */
  readonly requests: number;
  close(): Promise<void>;
}

export function startHttpbin(opts: HttpbinOptions = {}): Promise<Httpbin> {
  const host = opts.host ?? '127.0.0.1';
  const name = opts.name ?? 'httpbin';
  const log = opts.log ?? ((line: string) => void process.stdout.write(`${line}\n`));
  let requests = 0;

  const server = http.createServer((req, res) => {
    requests++;
    req.on('error', () => {});
    res.on('error', () => {});
    const timers = new Set<NodeJS.Timeout>();
    let exchange: Exchange | undefined;
    let logged = false;
    const writeLog = (): void => {
      if (logged) return;
      logged = true;
      try {
        log(
          formatAccessLine({
            remoteAddress: remoteAddress(req),
            authorization: req.headers.authorization,
            time: new Date(),
            requestLine: `${req.method} ${req.url} HTTP/${req.httpVersion}`,
            status: res.statusCode,
            bytes: exchange?.sent ?? 0,
            referer: req.headers.referer,
            userAgent: req.headers['user-agent'],
            host: req.headers.host,
          }),
        );
      } catch {
        // a failing log sink must not take the workload down
      }
    };
    res.on('finish', writeLog);
    res.on('close', () => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      // A client that left mid-response still gets its line, with the bytes that did go out.
      if (res.headersSent) writeLog();
    });

    const match = findRoute(req.url ?? '/');
    const echo = match?.route.echo ?? false;
    // Every body is read to its end before answering, so keep-alive connections stay in step.
    readBody(req, echo ? ECHO_LIMIT : 0, (body) => {
      if (res.destroyed) return;
      exchange = {
        req,
        res,
        r: new HttpbinRequest(req, body),
        head: req.method === 'HEAD',
        echo,
        name,
        sent: 0,
        timers,
      };
      try {
        respond(exchange, match);
      } catch {
        if (!res.headersSent) text(exchange, 500, 'Internal Server Error');
        else res.destroy();
      }
    });
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      const port = (server.address() as AddressInfo).port;
      const shown = host === '0.0.0.0' ? '127.0.0.1' : host === '::' ? '::1' : host;
      const url = `http://${shown.includes(':') ? `[${shown}]` : shown}:${port}`;
      let closing: Promise<void> | undefined;
      resolve({
        url,
        port,
        name,
        get requests() {
          return requests;
        },
        close() {
          closing ??= new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          });
          return closing;
        },
      });
    });
  });
}
