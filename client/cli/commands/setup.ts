import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../../../contracts/definitions';
import type { ConnectedCommand } from '../command';

const KEYWORD = 2;

export const setupCommand: ConnectedCommand = {
  name: 'setup',
  usage: 'setup',
  summary: 'register the search attributes on the Temporal server',
  async run(_commandLine, { client }) {
    const { operatorService } = client.connection;
    const namespace = client.options.namespace;
    const response = await operatorService.listSearchAttributes({ namespace });
    const missing = SEARCH_ATTRIBUTE_REGISTRATIONS.filter((a) => !(a.name in (response.customAttributes ?? {})));
    if (missing.length > 0) {
      await operatorService.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map((a) => [a.name, KEYWORD])) });
    }
    console.log(missing.length ? `registered ${missing.map((a) => a.name).join(', ')}` : 'search attributes already registered');
    return 0;
  },
};
