// Configuration: both vcluster.yaml forms -> one SnapshotPolicy.
export { parsePolicy, parsePolicyValues, loadPolicyOrThrow, releaseFromChartLabel } from './policy';
export type { PolicyOverrides, PolicyParseResult } from './policy';
export { formatErrors, formatIssue, PolicyValidationError } from './issues';
export type { ConfigIssue } from './issues';
export { POLICY_DEFAULTS, policyFor } from './defaults';
export type { PolicyDefaults } from './defaults';
export { checkSchedule, shortestIntervalSeconds } from './cron';
export { MAX_ALIAS_EXPANSION, MAX_CONFIG_BYTES, MAX_CONFIG_DEPTH, POLICY_LIMITS, formatSeconds } from './limits';
export type { PolicyLimits } from './limits';
export { decodeConfigBytes, parseYamlValues } from './text';
export type { ScheduleCheck } from './cron';
export { checkTimezone } from './timezone';
export type { TimezoneCheck } from './timezone';
export { parseGoDuration } from './duration';
export { parseS3Url } from './s3-url';
export { parseOciRepository } from './oci-url';
