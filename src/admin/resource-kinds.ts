// Names users type for kinds on the command line (kubectl style: singular, plural, short names),
// mapped to the canonical kind.

const ALIASES: Record<string, string> = {
  service: 'Service',
  services: 'Service',
  svc: 'Service',
  virtualservice: 'VirtualService',
  virtualservices: 'VirtualService',
  vs: 'VirtualService',
  destinationrule: 'DestinationRule',
  destinationrules: 'DestinationRule',
  dr: 'DestinationRule',
  workloadentry: 'WorkloadEntry',
  workloadentries: 'WorkloadEntry',
  we: 'WorkloadEntry',
  serviceentry: 'ServiceEntry',
  serviceentries: 'ServiceEntry',
  se: 'ServiceEntry',
  httproute: 'HTTPRoute',
  httproutes: 'HTTPRoute',
  grpcroute: 'GRPCRoute',
  grpcroutes: 'GRPCRoute',
  gateway: 'Gateway',
  gateways: 'Gateway',
  gtw: 'Gateway',
  gw: 'Gateway',
  gatewayclass: 'GatewayClass',
  gatewayclasses: 'GatewayClass',
  gc: 'GatewayClass',
  mirrorpolicy: 'MirrorPolicy',
  mirrorpolicies: 'MirrorPolicy',
  mp: 'MirrorPolicy',
  endpointslice: 'EndpointSlice',
  endpointslices: 'EndpointSlice',
  namespace: 'Namespace',
  namespaces: 'Namespace',
  ns: 'Namespace',
  secret: 'Secret',
  secrets: 'Secret',
  referencegrant: 'ReferenceGrant',
  referencegrants: 'ReferenceGrant',
};

export function canonicalKind(name: string): string | undefined {
  const n = name.toLowerCase().split('.')[0];
  return ALIASES[n];
}
