// A small client for Umbra's admin API, used by `umbra apply/get/delete/status`.

import { readFileSync } from 'node:fs';
import type { ConfigIssue } from '../config/issues.js';

export interface ApplyResult {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  result: string;
}

/** The union of what admin endpoints answer; each caller reads the fields its endpoint sets. */
export interface AdminJson {
  error?: string;
  text?: string;
  issues?: ConfigIssue[];
  results?: ApplyResult[];
  items?: ResourceItem[];
  [key: string]: unknown;
}

export interface ResourceItem {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string };
  source?: string;
  origin?: { type: string; file?: string; line?: number; from?: string; at?: string; stateFile?: string };
  [key: string]: unknown;
}

export class AdminError extends Error {}

/**
 * The admin token from a flag (or its environment variable, filled in by commander) or a file
 * (`--…-token-file`, e.g. a mounted Kubernetes Secret): a file keeps it out of `ps` and shell history.
 */
export function readToken(
  token: string | undefined,
  file: string | undefined,
  flag: string,
): string | undefined {
  if (token && file) throw new Error(`give ${flag} or ${flag}-file, not both`);
  if (!file) return token || undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`${flag}-file: cannot read ${file}: ${(e as Error).message}`);
  }
  const t = text.trim();
  if (!t) throw new Error(`${flag}-file: ${file} is empty`);
  return t;
}

export async function adminCall(
  admin: string,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: string,
  token?: string,
  contentType = 'application/yaml',
): Promise<{ status: number; json: AdminJson }> {
  const base = admin.startsWith('http') ? admin : `http://${admin}`;
  try {
    // Loaded on first call: undici's index (fetch, WebSocket, caches) costs `umbra run` ~9 MiB
    // resident, and `run` only needs this module for readToken.
    const { request } = await import('undici');
    const res = await request(`${base}${path}`, {
      method,
      body,
      headers: {
        ...(body !== undefined ? { 'content-type': contentType } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
    });
    const text = await res.body.text();
    let json: AdminJson;
    try {
      json = JSON.parse(text) as AdminJson;
    } catch {
      json = { text };
    }
    return { status: res.statusCode, json };
  } catch (e) {
    throw new AdminError(
      `cannot reach Umbra's admin API at ${base} (${(e as Error).message}); is \`umbra run\` running? (--admin ADDR)`,
    );
  }
}
