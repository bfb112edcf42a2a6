import { ensureSearchAttributes } from '../../../lib/search-attributes';
import type { ConnectedCommand } from '../command';

export const setupCommand: ConnectedCommand = {
  name: 'setup',
  usage: 'setup',
  summary: 'register the search attributes on the Temporal server',
  async run(_commandLine, { client }) {
    const registered = await ensureSearchAttributes(client.connection, client.options.namespace);
    console.log(registered.length ? `registered ${registered.join(', ')}` : 'search attributes already registered');
    return 0;
  },
};
