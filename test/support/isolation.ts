/** Keeps test stacks apart from each other and from whatever the developer's shell points at. */
import { randomBytes } from 'node:crypto';

/** A short random suffix for table and queue names. */
export function uniqueSuffix(): string {
  return `t${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

/**
 * process.env without the SDK endpoint variables and AWS credentials/profile, so a test
 * never talks to a real AWS account or a developer's long-running stand-ins by accident.
 */
export function isolatedBaseEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string | undefined> {
  const copy: Record<string, string | undefined> = { ...env };
  for (const key of Object.keys(copy)) {
    if (key.startsWith('AWS_') || key.startsWith('COT_')) delete copy[key];
  }
  return copy;
}
