/**
 * fauxqs keeps messages in memory while `npm start` keeps DynamoDB on disk, so after a
 * restart unfinished jobs would have no wake-up message. The launcher sends one per job
 * that is not terminal; a job whose message still exists is simply advanced by one worker
 * (duplicate deliveries are fenced by the lease).
 */
import { ScanCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { isTerminal, type JobMessage, type JobStatus } from '../shared/contracts/job.js';

/** Enqueues `{jobId}` for every job in `jobsTable` whose status is not terminal; returns how many. */
export async function requeueUnfinishedJobs(doc: DynamoDBDocumentClient, sqs: SQSClient, jobsTable: string, queueUrl: string): Promise<number> {
  const jobIds: string[] = [];
  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await doc.send(
      new ScanCommand({
        TableName: jobsTable,
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
