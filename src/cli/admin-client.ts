// A small client for Umbra's admin API, used by `umbra apply/get/delete/status`.

import { request } from 'undici';
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
  [key: string]: unknown;
}

export class AdminError extends Error {}

export async function adminCall(
  admin: string,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  body?: string,
  token?: string,
): Promise<{ status: number; json: AdminJson }> {
  const base = admin.startsWith('http') ? admin : `http://${admin}`;
  try {
    const res = await request(`${base}${path}`, {
      method,
      body,
      headers: { 'content-type': 'application/yaml', ...(token ? { authorization: `Bearer ${token}` } : {}) },
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
