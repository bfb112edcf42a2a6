// Secret references: `{secretName, secretNamespace}` (the pages' examples) or `{name, namespace}` (the pages' tables).
import { z } from 'zod';
import type { SecretRef } from '../../contracts/definitions';
import { mapping, optionalString, reporter, type Report } from './fields';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const secretRefShape = {
  secretName: optionalString(),
  secretNamespace: optionalString(),
  name: optionalString(),
  namespace: optionalString(),
};

export interface SecretRefFields {
  secretName?: string;
  secretNamespace?: string;
  name?: string;
  namespace?: string;
}

export function hasSecretName(fields: SecretRefFields): boolean {
  return fields.secretName !== undefined || fields.name !== undefined;
}

/** One of two aliases; both given and different is an issue on the second. */
function pickAlias(fields: SecretRefFields, primary: 'secretName' | 'secretNamespace', alias: 'name' | 'namespace', report: Report) {
  const first = fields[primary];
  const second = fields[alias];
  if (first !== undefined && second !== undefined && first !== second) {
    report([alias], `conflicts with ${primary} ("${second}" vs "${first}"); set only one of them`);
  }
  return first ?? second;
}

/**
 * Resolves the aliases into a SecretRef, the namespace defaulting to the cluster's (where vCluster's own Secrets
 * live). Reports issues and returns undefined when the reference is unusable.
 */
export function resolveSecretRef(fields: SecretRefFields, defaultNamespace: string, report: Report): SecretRef | undefined {
  const name = pickAlias(fields, 'secretName', 'name', report);
  const namespace = pickAlias(fields, 'secretNamespace', 'namespace', report) ?? defaultNamespace;
  let usable = true;
  if (name === undefined) {
    report(['secretName'], 'required (the name of the Secret; `name` is accepted too)');
    usable = false;
  } else if (name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
    report([fields.secretName !== undefined ? 'secretName' : 'name'], `must be a valid Secret name (lowercase letters, digits, "-" and "."), got "${name}"`);
    usable = false;
  }
  if (namespace.length > 63 || !DNS_LABEL.test(namespace)) {
    const key = fields.secretNamespace !== undefined ? 'secretNamespace' : 'namespace';
    report([key], `must be a valid namespace name (lowercase letters, digits and "-"), got "${namespace}"`);
    usable = false;
  }
  return usable && name !== undefined ? { name, namespace } : undefined;
}

/** A required Secret reference block, e.g. `storage.s3.credential` or `etcd.tlsSecret`. */
export function secretRefSchema(defaultNamespace: string) {
  return mapping(secretRefShape).transform((fields, ctx) => resolveSecretRef(fields, defaultNamespace, reporter(ctx)) ?? z.NEVER);
}
