// Registers the product's search attributes on a Temporal namespace: `vcsnap setup` does it, and every worker tries at
// start, so an upgrade that adds one works before anyone runs setup (where the worker's credentials may register them).
import type { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTE_REGISTRATIONS } from '../contracts/definitions';

type OperatorService = Pick<temporal.api.operatorservice.v1.OperatorService, 'listSearchAttributes' | 'addSearchAttributes'>;

/** temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD */
const KEYWORD = 2;

/** The names it registered (empty when all were there). */
export async function ensureSearchAttributes(operatorService: OperatorService, namespace: string): Promise<string[]> {
  const response = await operatorService.listSearchAttributes({ namespace });
  const missing = SEARCH_ATTRIBUTE_REGISTRATIONS.filter((a) => !(a.name in (response.customAttributes ?? {})));
  if (missing.length > 0) {
    await operatorService.addSearchAttributes({ namespace, searchAttributes: Object.fromEntries(missing.map((a) => [a.name, KEYWORD])) });
  }
  return missing.map((a) => a.name);
}
