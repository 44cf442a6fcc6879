// Plain JSON requests to the API server (list pages, status patches) with the credentials, CA and
// proxy settings of a client-node KubeConfig. Objects stay raw JSON, exactly as the server sent them.

import type { Agent } from 'node:http';
import { http, https } from '../runtime/node-http.js';
import type { KubeConfig } from '@kubernetes/client-node';

/** A non-2xx answer; `reason` and `message` come from the API server's Status object when present. */
export class KubeApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface KubeResponse {
  readonly statusCode: number;
  readonly body: unknown;
}

const MAX_RESPONSE = 256 * 1024 * 1024;

export class KubeHttp {
  constructor(
    readonly kc: KubeConfig,
    private readonly timeoutMs = 30_000,
  ) {}

  /** The API server's base URL (for messages). */
  get server(): string {
    return this.kc.getCurrentCluster()?.server ?? '(no cluster)';
  }

  get(path: string, query: Record<string, string | undefined> = {}): Promise<unknown> {
    return this.request('GET', path, query);
  }

  /** PATCH with an explicit content type (merge-patch, JSON-patch, …): the API server picks the semantics from it. */
  patch(path: string, body: unknown, contentType: string): Promise<unknown> {
    return this.request('PATCH', path, {}, JSON.stringify(body), contentType);
  }

  private async request(
    method: string,
    path: string,
    query: Record<string, string | undefined>,
    body?: string,
    contentType?: string,
  ): Promise<unknown> {
    const cluster = this.kc.getCurrentCluster();
    if (!cluster) throw new KubeApiError(0, 'NoCluster', 'the kubeconfig has no current cluster');
    const url = new URL(cluster.server.replace(/\/+$/, '') + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
    // applyToFetchOptions resolves tokens (files, exec plugins, in-cluster) and builds the TLS agent.
    const init = await this.kc.applyToFetchOptions({});
    const headers: Record<string, string> = {};
    const h = init.headers as { forEach?: (cb: (v: string, k: string) => void) => void } | undefined;
    h?.forEach?.((v, k) => (headers[k] = v));
    headers.accept = 'application/json';
    if (body !== undefined) {
      headers['content-type'] = contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const mod = url.protocol === 'https:' ? https : http;
    const agent = init.agent as Agent | undefined;
    return new Promise((resolve, reject) => {
      const req = mod.request(url, { method, headers, agent, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let n = 0;
        res.on('data', (c: Buffer) => {
          n += c.length;
          if (n > MAX_RESPONSE) req.destroy(new Error(`response over ${MAX_RESPONSE} bytes`));
          else chunks.push(c);
        });
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown = undefined;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve(json);
          const s = (json ?? {}) as { reason?: string; message?: string };
          reject(
            new KubeApiError(
              status,
              s.reason ?? (http.STATUS_CODES[status] || 'Error'),
              `${method} ${path}: ${status} ${s.message ?? (text.slice(0, 200) || http.STATUS_CODES[status] || '')}`.trim(),
            ),
          );
        });
      });
      req.on('timeout', () =>
        req.destroy(new Error(`${method} ${path}: no answer within ${this.timeoutMs} ms`)),
      );
      req.on('error', reject);
      req.end(body);
    });
  }
}

export function statusCodeOf(e: unknown): number | undefined {
  if (e instanceof KubeApiError) return e.statusCode;
  const err = e as { statusCode?: unknown; code?: unknown };
  if (typeof err?.statusCode === 'number') return err.statusCode;
  if (typeof err?.code === 'number') return err.code;
  return undefined;
}

export function errorText(e: unknown): string {
  if (e instanceof Error) return e.message || e.name;
  return String(e);
}
