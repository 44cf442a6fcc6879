// A small client for Umbra's admin API, used by `umbra apply/get/delete/status`.

import { request } from 'undici';

export class AdminError extends Error {}

export async function adminCall(admin: string, method: 'GET' | 'POST' | 'DELETE', path: string, body?: string, token?: string): Promise<{ status: number; json: any }> {
  const base = admin.startsWith('http') ? admin : `http://${admin}`;
  try {
    const res = await request(`${base}${path}`, {
      method,
      body,
      headers: { 'content-type': 'application/yaml', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    });
    const text = await res.body.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = { text };
    }
    return { status: res.statusCode, json };
  } catch (e) {
    throw new AdminError(`cannot reach Umbra's admin API at ${base} (${(e as Error).message}); is \`umbra run\` running? (--admin ADDR)`);
  }
}
