// Holds the configuration currently served: the compiled table (swapped by reference), the
// resources it came from and the issues of the last load, good or bad.

import { EventEmitter } from 'node:events';
import type { ConfigIssue } from '../config/issues.js';
import type { Resource } from '../config/resource.js';
import type { RouteTable } from '../model/route-table.js';

export const EMPTY_TABLE: RouteTable = Object.freeze({
  version: 0,
  hostIndex: new Map(),
  wildcardHosts: [],
  clusters: new Map(),
  gatewayListeners: [],
});

export interface LoadReport {
  readonly at: string;
  readonly version: number;
  /** False when the load had errors and the previous table stayed in service. */
  readonly applied: boolean;
  readonly issues: readonly ConfigIssue[];
}

export class ConfigState extends EventEmitter {
  /** Read once per request: a request pins the table it started with. */
  table: RouteTable = EMPTY_TABLE;
  resources: readonly Resource[] = [];
  /** Issues of the table in service. */
  issues: readonly ConfigIssue[] = [];
  lastLoad?: LoadReport;
  ready = false;
  /** Status written by translation (Gateway API conditions), by resourceKey. */
  statuses: ReadonlyMap<string, unknown> = new Map();
  /**
   * Configurations accepted and rejected since start (Envoy's update_success/update_rejected):
   * file reloads, applies and deletes alike; a refused apply or delete counts as rejected.
   */
  readonly updates = { success: 0, rejected: 0 };

  publish(
    table: RouteTable,
    resources: readonly Resource[],
    issues: readonly ConfigIssue[],
    statuses: ReadonlyMap<string, unknown> = new Map(),
  ): void {
    this.table = table;
    this.statuses = statuses;
    this.resources = resources;
    this.issues = issues;
    this.ready = true;
    this.updates.success++;
    this.lastLoad = { at: new Date().toISOString(), version: table.version, applied: true, issues };
    this.emit('swap', table);
  }

  reject(version: number, issues: readonly ConfigIssue[]): void {
    this.updates.rejected++;
    this.lastLoad = { at: new Date().toISOString(), version, applied: false, issues };
    this.emit('rejected', issues);
  }

  /** An apply or delete refused by admission, before any load: counted, nothing else changes. */
  refused(): void {
    this.updates.rejected++;
  }
}
