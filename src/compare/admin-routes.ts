// Admin GET endpoints for comparison results: /compare/report (JSON report, optionally filtered by
// route or mirror) and /compare/samples?group=KEY (a group's sample pairs, redacted).

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ComparisonSource } from './report.js';

export type AdminRoute = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2) + '\n';
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

export function registerCompareRoutes(routes: Map<string, AdminRoute>, engine: ComparisonSource): void {
  routes.set('/compare/report', (req, res) => {
    const q = new URL(req.url ?? '/', 'http://admin').searchParams;
    json(
      res,
      200,
      engine.report({ route: q.get('route') ?? undefined, mirror: q.get('mirror') ?? undefined }),
    );
  });
  routes.set('/compare/samples', (req, res) => {
    const key = new URL(req.url ?? '/', 'http://admin').searchParams.get('group');
    if (!key)
      return json(res, 400, { error: 'group=KEY is required (the key of a group in /compare/report)' });
    const samples = engine.samples(key);
    if (!samples) return json(res, 404, { error: 'no such comparison group' });
    json(res, 200, { group: key, samples });
  });
}
