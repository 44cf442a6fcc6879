// Offline checks of Kubernetes manifests against published schemas, with what the npm registry
// provides: kubernetes-models (JSON-schema validators generated from the Kubernetes OpenAPI: types,
// enums, required fields) plus an unknown-field check driven by @kubernetes/client-node's generated
// models (every field each API type has), which is what `kubectl --validate=strict` adds.

import * as k8s from '@kubernetes/client-node';

type Json = Record<string, unknown>;
interface Attribute {
  readonly baseName: string;
  readonly type: string;
}
type ModelClass = { getAttributeTypeMap(): Attribute[] };

const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** client-node's model class name for an object: apps/v1 Deployment → V1Deployment. */
export function modelName(apiVersion: string, kind: string): string {
  const version = apiVersion.includes('/') ? apiVersion.split('/')[1] : apiVersion;
  return `${version.charAt(0).toUpperCase()}${version.slice(1)}${kind}`;
}

function model(name: string): ModelClass | undefined {
  const c = (k8s as unknown as Record<string, unknown>)[name] as Partial<ModelClass> | undefined;
  return typeof c?.getAttributeTypeMap === 'function' ? (c as ModelClass) : undefined;
}

/** Every field path in `value` that the API type does not have. */
export function unknownFields(value: unknown, typeName: string, path = ''): string[] {
  const out: string[] = [];
  const arr = /^Array<(.+)>$/.exec(typeName);
  if (arr) {
    if (Array.isArray(value)) value.forEach((v, i) => out.push(...unknownFields(v, arr[1], `${path}[${i}]`)));
    return out;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(typeName);
  if (map) {
    if (isObj(value))
      for (const [k, v] of Object.entries(value)) out.push(...unknownFields(v, map[1], `${path}.${k}`));
    return out;
  }
  const m = model(typeName);
  if (!m || !isObj(value)) return out;
  const attrs = m.getAttributeTypeMap();
  for (const [k, v] of Object.entries(value)) {
    const a = attrs.find((x) => x.baseName === k);
    if (!a) out.push(`${path ? `${path}.` : ''}${k}`);
    else out.push(...unknownFields(v, a.type, `${path ? `${path}.` : ''}${k}`));
  }
  return out;
}

export function hasModel(apiVersion: string, kind: string): boolean {
  return model(modelName(apiVersion, kind)) !== undefined;
}

/** kubernetes-models' validator for a built-in kind; throws with every schema error found. */
export async function validateBuiltin(obj: Json): Promise<void> {
  const apiVersion = String(obj.apiVersion);
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const mod = (await import(
    `kubernetes-models/${group ? `${group}/` : ''}${version}/${String(obj.kind)}`
  )) as Record<string, new (o: Json) => { validate(): void }>;
  const Model = mod[String(obj.kind)];
  new Model(obj).validate();
}

// ---------------------------------------------------------------------------------------------
// A small validator for CRD structural schemas (the subset Umbra's CRD uses), to run sample objects
// through the CRD the way the API server would, unknown fields included (kubectl's strict default).

export interface SchemaProps {
  type?: string;
  properties?: Record<string, SchemaProps>;
  items?: SchemaProps;
  required?: string[];
  enum?: unknown[];
  minItems?: number;
  maxItems?: number;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  pattern?: string;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
}

export function checkSchema(value: unknown, s: SchemaProps, path = ''): string[] {
  const at = path || '<root>';
  const out: string[] = [];
  const typeOk =
    s.type === undefined ||
    (s.type === 'object' && isObj(value)) ||
    (s.type === 'array' && Array.isArray(value)) ||
    (s.type === 'string' && typeof value === 'string') ||
    (s.type === 'integer' && Number.isInteger(value)) ||
    (s.type === 'number' && typeof value === 'number') ||
    (s.type === 'boolean' && typeof value === 'boolean');
  if (!typeOk) return [`${at}: expected ${s.type}`];
  if (s.enum && !s.enum.includes(value)) out.push(`${at}: not one of ${s.enum.join(', ')}`);
  if (typeof value === 'string') {
    if (s.minLength !== undefined && value.length < s.minLength)
      out.push(`${at}: shorter than ${s.minLength}`);
    if (s.pattern && !new RegExp(s.pattern).test(value)) out.push(`${at}: does not match ${s.pattern}`);
  }
  if (typeof value === 'number' && s.minimum !== undefined && value < s.minimum)
    out.push(`${at}: below ${s.minimum}`);
  if (typeof value === 'number' && s.maximum !== undefined && value > s.maximum)
    out.push(`${at}: above ${s.maximum}`);
  if (Array.isArray(value)) {
    if (s.minItems !== undefined && value.length < s.minItems)
      out.push(`${at}: fewer than ${s.minItems} items`);
    if (s.maxItems !== undefined && value.length > s.maxItems)
      out.push(`${at}: more than ${s.maxItems} items`);
    if (s.items) value.forEach((v, i) => out.push(...checkSchema(v, s.items!, `${path}[${i}]`)));
  }
  if (isObj(value)) {
    for (const r of s.required ?? [])
      if (value[r] === undefined) out.push(`${path ? `${path}.` : ''}${r}: required`);
    if (!s['x-kubernetes-preserve-unknown-fields'])
      for (const [k, v] of Object.entries(value)) {
        const p = s.properties?.[k];
        if (!p) {
          if (s.properties) out.push(`${path ? `${path}.` : ''}${k}: unknown field`);
          continue;
        }
        out.push(...checkSchema(v, p, `${path ? `${path}.` : ''}${k}`));
      }
  }
  return out;
}
