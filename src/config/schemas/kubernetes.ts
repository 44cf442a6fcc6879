// Schemas for core Kubernetes objects Umbra reads: ObjectMeta, v1 Service, v1 Namespace and
// discovery.k8s.io/v1 EndpointSlice. Field names follow k8s.io/api core/v1 and discovery/v1.

import { z } from 'zod';
import {
  addError,
  annotationMap,
  has,
  isRecord,
  int32,
  labelMap,
  named,
  port,
  positiveInt,
  strictObject,
  withChecks,
} from './common.js';

/**
 * metav1.ObjectMeta as it appears in manifests and in objects read back from the API server.
 * The name rule depends on the kind and is checked in validate.ts.
 */
export const objectMeta = strictObject({
  name: z.string({ required_error: 'metadata.name is required' }).min(1, 'metadata.name must not be empty'),
  generateName: z.string().optional(),
  namespace: named('label').optional(),
  selfLink: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.number().int().optional(),
  creationTimestamp: z.string().nullable().optional(),
  deletionTimestamp: z.string().nullable().optional(),
  deletionGracePeriodSeconds: z.number().int().optional(),
  labels: labelMap.optional(),
  annotations: annotationMap.optional(),
  ownerReferences: z
    .array(
      strictObject({
        apiVersion: z.string(),
        kind: z.string(),
        name: z.string(),
        uid: z.string(),
        controller: z.boolean().optional(),
        blockOwnerDeletion: z.boolean().optional(),
      }),
    )
    .optional(),
  finalizers: z.array(z.string()).optional(),
  // Written by the API server's field manager; its content is opaque to Umbra.
  managedFields: z.array(z.record(z.string(), z.unknown())).optional(),
});
export type ObjectMetaInput = z.output<typeof objectMeta>;

/** IANA service name (ports and targetPort names): ≤ 15 chars, letters/digits/-, one letter. */
const IANA_SVC_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const portName = z.string().superRefine((s, ctx) => {
  if (s.length > 15 || !IANA_SVC_NAME.test(s) || !/[a-z]/.test(s) || s.includes('--'))
    addError(
      ctx,
      [],
      `"${s}" is not a valid port name`,
      'at most 15 lower-case letters, digits and "-", with at least one letter',
    );
});

const protocol = z.enum(['TCP', 'UDP', 'SCTP']);

export const servicePort = strictObject({
  name: portName.optional(),
  protocol: protocol.optional(),
  appProtocol: z.string().optional(),
  port,
  targetPort: z
    .union([port, portName], {
      errorMap: () => ({ message: 'targetPort must be a port number (1-65535) or a port name' }),
    })
    .optional(),
  nodePort: port.optional(),
});

const ipFamily = z.enum(['IPv4', 'IPv6']);

export const serviceSpec = withChecks(
  strictObject({
    ports: z.array(servicePort).optional(),
    selector: z.record(z.string(), z.string()).optional(),
    clusterIP: z.string().optional(),
    clusterIPs: z.array(z.string()).max(2).optional(),
    type: z.enum(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName']).optional(),
    externalIPs: z.array(z.string()).optional(),
    sessionAffinity: z.enum(['ClientIP', 'None']).optional(),
    loadBalancerIP: z.string().optional(),
    loadBalancerSourceRanges: z.array(z.string()).optional(),
    externalName: z.string().optional(),
    externalTrafficPolicy: z.enum(['Cluster', 'Local']).optional(),
    healthCheckNodePort: port.optional(),
    publishNotReadyAddresses: z.boolean().optional(),
    sessionAffinityConfig: strictObject({
      clientIP: strictObject({ timeoutSeconds: positiveInt.max(86400).optional() }).optional(),
    }).optional(),
    ipFamilies: z.array(ipFamily).max(2).optional(),
    ipFamilyPolicy: z.enum(['SingleStack', 'PreferDualStack', 'RequireDualStack']).optional(),
    allocateLoadBalancerNodePorts: z.boolean().optional(),
    loadBalancerClass: z.string().optional(),
    internalTrafficPolicy: z.enum(['Cluster', 'Local']).optional(),
    trafficDistribution: z.string().optional(),
  }),
  (s, ctx) => {
    // Port rules from k8s validation: names are required and unique once there are several
    // ports, and a port/protocol pair may appear once.
    const ports = Array.isArray(s.ports) ? s.ports : [];
    const names = new Set<unknown>();
    const pairs = new Set<string>();
    ports.forEach((p, i) => {
      if (!isRecord(p)) return;
      if (ports.length > 1 && !has(p, 'name'))
        addError(ctx, ['ports', i, 'name'], 'name is required when a Service has more than one port');
      if (typeof p.name === 'string') {
        if (names.has(p.name)) addError(ctx, ['ports', i, 'name'], `duplicate port name "${p.name}"`);
        names.add(p.name);
      }
      if (typeof p.port !== 'number') return;
      const pair = `${p.port}/${typeof p.protocol === 'string' ? p.protocol : 'TCP'}`;
      if (pairs.has(pair)) addError(ctx, ['ports', i, 'port'], `duplicate port ${pair}`);
      pairs.add(pair);
    });
    if (s.type === 'ExternalName' && !has(s, 'externalName'))
      addError(ctx, ['externalName'], 'externalName is required when type is ExternalName');
  },
);
export type ServiceSpec = z.output<typeof serviceSpec>;
export type ServicePort = z.output<typeof servicePort>;

export const namespaceSpec = strictObject({ finalizers: z.array(z.string()).optional() });
export type NamespaceSpec = z.output<typeof namespaceSpec>;

const objectReference = strictObject({
  kind: z.string().optional(),
  namespace: z.string().optional(),
  name: z.string().optional(),
  uid: z.string().optional(),
  apiVersion: z.string().optional(),
  resourceVersion: z.string().optional(),
  fieldPath: z.string().optional(),
});

export const endpoint = strictObject({
  addresses: z.array(z.string().min(1)).min(1, 'an endpoint needs at least one address').max(100),
  conditions: strictObject({
    ready: z.boolean().nullable().optional(),
    serving: z.boolean().nullable().optional(),
    terminating: z.boolean().nullable().optional(),
  }).optional(),
  hostname: z.string().optional(),
  targetRef: objectReference.optional(),
  deprecatedTopology: z.record(z.string(), z.string()).optional(),
  nodeName: z.string().optional(),
  zone: z.string().optional(),
  hints: strictObject({
    forZones: z.array(strictObject({ name: z.string() })).optional(),
    forNodes: z.array(strictObject({ name: z.string() })).optional(),
  }).optional(),
});

export const endpointPort = strictObject({
  name: z.string().nullable().optional(),
  protocol: protocol.nullable().optional(),
  port: int32.nullable().optional(),
  appProtocol: z.string().nullable().optional(),
});

/**
 * EndpointSlice keeps its fields at the top level of the object; Umbra stores them as the
 * resource's `spec` so every resource has the same envelope.
 */
export const endpointSliceShape = {
  addressType: z.enum(['IPv4', 'IPv6', 'FQDN']),
  endpoints: z.array(endpoint).max(1000).nullable().optional(),
  ports: z.array(endpointPort).max(100).nullable().optional(),
};
export const endpointSliceSpec = strictObject(endpointSliceShape);
export type EndpointSliceSpec = z.output<typeof endpointSliceSpec>;

/** A Secret data key (k8s IsConfigMapKey): letters, digits, "-", "_" and ".". */
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const secretKey = z.string().superRefine((k, ctx) => {
  if (k.length > 253 || !SECRET_KEY.test(k))
    addError(ctx, [], `"${k}" is not a valid Secret key`, 'letters, digits, "-", "_" and "."');
});
// Values are never quoted back in messages: they are secret.
const base64Value = z.string().superRefine((v, ctx) => {
  if (!BASE64.test(v.replace(/\s+/g, '')))
    addError(
      ctx,
      [],
      'must be base64 (Secret data values are base64-encoded)',
      'kubectl create secret encodes them',
    );
});

/**
 * v1 Secret, as `kubectl create secret tls NAME --cert --key --dry-run=client -o yaml` prints it.
 * Like EndpointSlice its fields are top level (type, data, stringData); Umbra keeps them as `spec`.
 * Only `kubernetes.io/tls` Secrets are used (listener and upstream certificates).
 */
export const secretShape = {
  type: z.string().min(1).default('Opaque'),
  data: z.record(secretKey, base64Value).nullable().optional(),
  stringData: z.record(secretKey, z.string()).nullable().optional(),
  immutable: z.boolean().optional(),
};
export const secretSpec = strictObject(secretShape);
export type SecretSpec = z.output<typeof secretSpec>;
