// The one error vocabulary of the config loader: a field path and a reason, one line each when printed.
import type { ClusterRef } from '../../contracts/definitions';

export interface ConfigIssue {
  /** Dotted field path from the vcluster.yaml root, e.g. `snapshots.auto.schedule`; '' for the document itself. */
  path: string;
  message: string;
}

export function joinPath(base: string, segments: ReadonlyArray<PropertyKey>): string {
  let path = base;
  for (const segment of segments) {
    if (typeof segment === 'number') path += `[${segment}]`;
    else path += path === '' ? String(segment) : `.${String(segment)}`;
  }
  return path;
}

export function formatIssue(issue: ConfigIssue): string {
  return issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`;
}

/** One line per issue: `snapshots.auto.schedule: invalid cron expression "..." (...)`. */
export function formatErrors(issues: ReadonlyArray<ConfigIssue>): string {
  return issues.map(formatIssue).join('\n');
}

/** Thrown by loadPolicyOrThrow; carries every issue so callers can print or return them field by field. */
export class PolicyValidationError extends Error {
  readonly issues: ReadonlyArray<ConfigIssue>;
  readonly cluster: ClusterRef;

  constructor(cluster: ClusterRef, issues: ReadonlyArray<ConfigIssue>) {
    const count = issues.length === 1 ? '1 issue' : `${issues.length} issues`;
    super(`invalid auto-snapshot configuration for vCluster ${cluster.namespace}/${cluster.name} (${count}):\n${formatErrors(issues)}`);
    this.name = 'PolicyValidationError';
    this.issues = issues;
    this.cluster = cluster;
  }
}
