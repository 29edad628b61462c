/** Condition expressions more than one DynamoDB adapter writes. */
import { TERMINAL_STATUSES } from '../../contracts/job.js';

/**
 * The Jobs item is not finished: its status (named `#s` by the caller) is none of the
 * terminal statuses. Its values go into ExpressionAttributeValues beside the caller's own.
 */
export const NOT_FINISHED: { expression: string; values: Record<string, string> } = {
  expression: `NOT #s IN (${TERMINAL_STATUSES.map((_, i) => `:t${i}`).join(', ')})`,
  values: Object.fromEntries(TERMINAL_STATUSES.map((status, i) => [`:t${i}`, status])),
};
