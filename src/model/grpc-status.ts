// gRPC status codes by number and name, and the HTTP status a gRPC status stands for: shared by
// translation (Istio fault.abort.grpcStatus) and the data plane (local replies, metrics).

/** gRPC status codes (grpc/doc/statuscodes.md). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

const BY_NAME: Readonly<Record<string, number>> = GrpcStatus;

/** A status by name ("UNAVAILABLE", as Istio's fault.abort.grpcStatus takes it) or by number ("14"). */
export function grpcStatusCode(nameOrNumber: string): number | undefined {
  const s = nameOrNumber.trim();
  if (/^\d{1,2}$/.test(s)) {
    const n = Number(s);
    return n <= 16 ? n : undefined;
  }
  return BY_NAME[s.toUpperCase()];
}

/** The HTTP status Envoy gives a gRPC status (Grpc::Utility::grpcToHttpStatus), for non-gRPC clients. */
export function httpStatusForGrpc(code: number): number {
  switch (code) {
    case GrpcStatus.OK:
      return 200;
    case GrpcStatus.CANCELLED:
      return 499;
    case GrpcStatus.INVALID_ARGUMENT:
    case GrpcStatus.FAILED_PRECONDITION:
    case GrpcStatus.OUT_OF_RANGE:
      return 400;
    case GrpcStatus.DEADLINE_EXCEEDED:
      return 504;
    case GrpcStatus.NOT_FOUND:
    case GrpcStatus.UNIMPLEMENTED:
      return 404;
    case GrpcStatus.ALREADY_EXISTS:
    case GrpcStatus.ABORTED:
      return 409;
    case GrpcStatus.PERMISSION_DENIED:
      return 403;
    case GrpcStatus.RESOURCE_EXHAUSTED:
      return 429;
    case GrpcStatus.UNAVAILABLE:
      return 503;
    case GrpcStatus.UNAUTHENTICATED:
      return 401;
    default:
      return 500;
  }
}
