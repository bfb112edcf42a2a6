// validate and apply read a vcluster.yaml the same way and report an invalid one the same way.
import { readFileSync } from 'node:fs';
import type { ClusterRef } from '../../contracts/definitions';
import { formatErrors, parsePolicy, type PolicyParseResult } from '../../lib/policy';
import { loadPolicyLimits } from '../../lib/runtime-config';

export type ValidPolicyFile = Extract<PolicyParseResult, { ok: true }>;

/** The parsed file, or undefined after printing every offending field to stderr as `FILE: <verdict>`. */
export function readPolicyFile(file: string, cluster: ClusterRef, verdict: string): ValidPolicyFile | undefined {
  // The worker's bounds (VCSNAP_MIN_SCHEDULE_INTERVAL, VCSNAP_MAX_VOLUME_CONCURRENCY), as sync applies them.
  const parsed = parsePolicy(readFileSync(file, 'utf8'), cluster, { limits: loadPolicyLimits() });
  if (parsed.ok) return parsed;
  console.error(`${file}: ${verdict}\n${formatErrors(parsed.errors)}`);
  return undefined;
}
