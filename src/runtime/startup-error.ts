// The error a control plane throws when it cannot start: bad first configuration, unreachable
// Kubernetes API server. Carries the config issues so the CLI can print each one.

import type { ConfigIssue } from '../config/issues.js';

export class StartupError extends Error {
  constructor(
    message: string,
    readonly issues: readonly ConfigIssue[],
  ) {
    super(message);
  }
}
