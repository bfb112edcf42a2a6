// Registers the product's search attributes on a Temporal namespace: `vcsnap setup` does it, and every worker tries at
// start, so an upgrade that adds one works before anyone runs setup (where the worker's credentials may register them).
import { setTimeout as sleep } from 'node:timers/promises';
import type { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../contracts/definitions';

interface TemporalServices {
  operatorService: Pick<temporal.api.operatorservice.v1.OperatorService, 'listSearchAttributes' | 'addSearchAttributes'>;
  workflowService: Pick<temporal.api.workflowservice.v1.WorkflowService, 'countWorkflowExecutions'>;
}

/** temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD */
const KEYWORD = 2;

/**
 * The names it registered (empty when all were there). It returns once the namespace takes them: the frontend maps
 * attributes from a cache it refreshes periodically (0.5-1.5 s after registering, measured), and until then refuses a
 * schedule that carries them ("no mapping defined for search attribute"), which a worker's first sync after an install
 * ran into.
 */
export async function ensureSearchAttributes(services: TemporalServices, namespace: string, waitMs = 60_000): Promise<string[]> {
  const response = await services.operatorService.listSearchAttributes({ namespace });
  const missing = SEARCH_ATTRIBUTE_REGISTRATIONS.filter((a) => !(a.name in (response.customAttributes ?? {}))).map((a) => a.name);
  if (missing.length > 0) {
    await services.operatorService.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map((name) => [name, KEYWORD])) });
    await untilMapped(services, namespace, missing, waitMs);
  }
  return missing;
}

/** Waits until a visibility query naming every one of `names` is accepted. */
async function untilMapped(services: TemporalServices, namespace: string, names: string[], waitMs: number): Promise<void> {
  const query = names.map((name) => `${name} = 'probe'`).join(' AND ');
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await services.workflowService.countWorkflowExecutions({ namespace, query });
      return;
    } catch (err) {
      if (Date.now() >= deadline) {
        throw new Error(`registered ${names.join(', ')} on namespace ${namespace}, but the server did not take them within ${waitMs / 1000}s: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    await sleep(500);
  }
}
