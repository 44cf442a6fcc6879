// Envoy-style response flags and the local replies that carry them, so operators used to Envoy
// access logs read Umbra's the same way (envoyproxy.io: access log format, %RESPONSE_FLAGS%).

export const enum Flag {
  None = '-',
  NoRoute = 'NR',
  NoHealthyUpstream = 'UH',
  UpstreamConnectFailure = 'UF',
  UpstreamConnectionTermination = 'UC',
  UpstreamRequestTimeout = 'UT',
  UpstreamOverflow = 'UO',
  UpstreamRetryLimitExceeded = 'URX',
  DownstreamConnectionTermination = 'DC',
  FaultInjectedAbort = 'FI',
  FaultInjectedDelay = 'DI',
  UpstreamProtocolError = 'UPE',
  DownstreamProtocolError = 'DPE',
  LocalReset = 'LR',
}

/** Body texts of local replies, one per failure, stable for tests and users' scripts. */
export const LOCAL_REPLY_TEXT: Record<string, string> = {
  NR: 'no route matched this request',
  UH: 'no healthy upstream',
  UF: 'upstream connect error: connection failure',
  UC: 'upstream connect error: connection reset before headers',
  UT: 'upstream request timeout',
  UO: 'upstream overflow: too many pending requests',
  UPE: 'upstream sent a malformed response',
  FI: 'fault filter abort',
};
