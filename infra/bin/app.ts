/**
 * The CDK app. `npm run synth` runs this file directly (offline: no AWS credentials, no
 * Docker; image assets are only staged) and writes the cloud assembly to infra/cdk.out.
 * Under the CDK CLI (`cd infra && npx cdk deploy`), CDK_OUTDIR and CDK_CONTEXT_JSON come
 * from the CLI instead, and its -c values override infra/cdk.json. cdk-nag's AwsSolutions
 * pack runs on every synthesis.
 */
import { rmSync } from 'node:fs';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildCotApp } from '../lib/cot-app.js';
import { DEFAULT_OUTDIR, InfraConfigError, readCdkJsonContext } from '../lib/config.js';

const underCli = process.env.CDK_OUTDIR !== undefined;
const quiet = underCli || process.argv.includes('--quiet');

try {
  // Run directly, the output directory is ours: start clean so stale staged assets do not pile up.
  if (!underCli) rmSync(DEFAULT_OUTDIR, { recursive: true, force: true });
  const app = new App({ outdir: process.env.CDK_OUTDIR ?? DEFAULT_OUTDIR, context: readCdkJsonContext() });
  const stacks = buildCotApp(app);
  // Every synth, deploy included, fails on an unacknowledged AwsSolutions finding.
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const assembly = app.synth();
  if (!quiet) {
    console.log(`synthesized ${assembly.stacks.length} stacks to ${assembly.directory}:`);
    for (const stack of assembly.stacks) console.log(`  ${stack.stackName} (${stack.environment.region})`);
    console.log(`bedrock models granted: ${stacks.modelIds.join(', ')}`);
  }
} catch (error) {
  if (error instanceof InfraConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  throw error;
}
