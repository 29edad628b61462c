/** Recognising DynamoDB's conditional failures, in single writes and in transactions. */

/** True when a single-item write failed its ConditionExpression. */
export function isConditionalFailure(err: unknown): boolean {
  return (err as { name?: string } | null)?.name === 'ConditionalCheckFailedException';
}

/**
 * For a cancelled transaction, the index of each item whose condition failed; undefined
 * when the error is not a transaction cancellation.
 */
export function failedTransactionItems(err: unknown): number[] | undefined {
  const e = err as { name?: string; CancellationReasons?: { Code?: string }[]; message?: string } | null;
  if (e?.name !== 'TransactionCanceledException') return undefined;
  if (e.CancellationReasons) {
    return e.CancellationReasons.flatMap((r, i) => (r.Code === 'ConditionalCheckFailed' ? [i] : []));
  }
  // Some endpoints only put the reasons in the message: "… [ConditionalCheckFailed, None]".
  const list = /\[([^\]]*)\]/.exec(e.message ?? '')?.[1]?.split(',').map((s) => s.trim()) ?? [];
  return list.flatMap((code, i) => (code === 'ConditionalCheckFailed' ? [i] : []));
}
