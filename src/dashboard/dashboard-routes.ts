// Serves the dashboard on the admin port: plain HTML, JavaScript and CSS shipped in the repository
// (src/dashboard/static), no build step. The page polls the admin JSON APIs itself.

import { existsSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

type AdminRoute = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

const FILES: Record<string, { file: string; type: string }> = {
  '/dashboard': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/dashboard.css': { file: 'dashboard.css', type: 'text/css; charset=utf-8' },
};

/** The static files sit in src/dashboard/static; this module runs from dist/src/dashboard. */
export function staticDir(): string {
  const candidates = [
    new URL('./static/', import.meta.url),
    new URL('../../../src/dashboard/static/', import.meta.url),
  ].map((u) => fileURLToPath(u));
  return candidates.find((d) => existsSync(`${d}index.html`)) ?? candidates[candidates.length - 1];
}

export function registerDashboardRoutes(routes: Map<string, AdminRoute>): void {
  const dir = staticDir();
  for (const [path, { file, type }] of Object.entries(FILES)) {
    routes.set(path, (_req, res) => {
      let body: Buffer;
      try {
        // Read on each request: small files, admin traffic only, and edits show without a restart.
        body = readFileSync(`${dir}${file}`);
      } catch {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end(`dashboard file ${file} is missing from ${dir}\n`);
        return;
      }
      res.writeHead(200, {
        'content-type': type,
        'content-length': body.length,
        'cache-control': 'no-cache',
        // The page only talks to this admin port; nothing else may be loaded or framed.
        'content-security-policy':
          "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        'x-content-type-options': 'nosniff',
      });
      res.end(body);
    });
  }
}
