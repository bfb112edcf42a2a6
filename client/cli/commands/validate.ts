import { requiredArg } from '../args';
import type { OfflineCommand } from '../command';
import { print } from '../output';
import { readPolicyFile } from '../policy-file';

export const validateCommand: OfflineCommand = {
  name: 'validate',
  usage: 'validate -f FILE [--name N -n NS]',
  summary: 'check a vcluster.yaml and print the policy it makes',
  offline: true,
  async run({ options, json }) {
    const file = requiredArg(options.file, 'validate: -f FILE is required');
    const cluster = { name: options.name ?? 'vcluster', namespace: options.namespace ?? 'default' };
    const parsed = readPolicyFile(file, cluster, 'invalid');
    if (!parsed) return 2;
    print(json, parsed, () => (parsed.policy ? JSON.stringify(parsed.policy, null, 2) : `${file}: valid, no schedule (${parsed.reason})`));
    return 0;
  },
};
