/**
 * fauxqs keeps messages in memory while `npm start` keeps DynamoDB on disk, so after a
 * restart unfinished jobs would have no wake-up message. The launcher sends one per job
 * that is not terminal; a job whose message still exists is simply advanced by one worker
 * (duplicate deliveries are fenced by the lease).
 *
 * Their leases are released first: every worker of the previous run is gone (they die with
 * the launcher), so a lease left by one that could not hand over (killed, or a forced stop)
 * would only make the job wait up to COT_LEASE_SECONDS for nothing. Releasing keeps the
 * epoch, so the next acquisition still fences any holder that somehow survived.
 */
import { ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { isTerminal, type JobMessage, type JobStatus } from '../shared/contracts/job.js';
import { isConditionalFailure } from '../shared/adapters/aws/dynamo-errors.js';

/** Releases the leases of, and enqueues `{jobId}` for, every job whose status is not terminal; returns how many. */
export async function requeueUnfinishedJobs(
  doc: DynamoDBDocumentClient,
  sqs: SQSClient,
  tables: { jobs: string; state: string },
  queueUrl: string,
): Promise<number> {
  const jobIds: string[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: tables.jobs,
        ProjectionExpression: 'jobId, #s',
        ExpressionAttributeNames: { '#s': 'status' },
        ExclusiveStartKey: startKey,
      }),
    );
    for (const item of page.Items ?? []) {
      const status = item.status as JobStatus | undefined;
      if (typeof item.jobId === 'string' && status && !isTerminal(status)) jobIds.push(item.jobId);
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);

  for (const jobId of jobIds) await releaseLease(doc, tables.state, jobId);
  for (let i = 0; i < jobIds.length; i += 10) {
    const batch = jobIds.slice(i, i + 10);
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: batch.map((jobId, n) => ({ Id: String(n), MessageBody: JSON.stringify({ jobId } satisfies JobMessage) })),
      }),
    );
  }
  return jobIds.length;
}

async function releaseLease(doc: DynamoDBDocumentClient, stateTable: string, jobId: string): Promise<void> {
  try {
    await doc.send(
      new UpdateCommand({
        TableName: stateTable,
        Key: { jobId },
        UpdateExpression: 'SET leaseExpiresAt = :zero REMOVE leaseOwner',
        ConditionExpression: 'attribute_exists(leaseOwner)',
        ExpressionAttributeValues: { ':zero': 0 },
      }),
    );
  } catch (err) {
    // No lease to release (handed over, or never leased) is the usual case.
    if (!isConditionalFailure(err)) throw err;
  }
}
