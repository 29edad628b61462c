/**
 * The observability stack as CloudFormation receives it: the dashboard shows the metrics the
 * services emit (names from the shared contract), the alarms an on-call person needs notify
 * the alarm topic, the X-Ray rules sample every POST /chat, and cdk-nag finds nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ObservabilityStack } from '../../infra/lib/observability.stack.js';
import { buildCotApp } from '../../infra/lib/cot-app.js';
import { readCdkJsonContext } from '../../infra/lib/config.js';
import { METRIC, METRICS_NAMESPACE, SAMPLING_RULES } from '../../services/shared/contracts/telemetry.js';
import { loadCircle } from '../../services/shared/circle/circle.js';

type Resources = Record<string, { Type: string; Properties: Record<string, any> }>;

const circle = loadCircle();
const MEMBERS = [...circle.advisors.map((a) => a.id), circle.chair.id];
const THRESHOLDS = { jobFailurePercent: 10, overheadP90Ms: 5000, modelErrorPercent: 20, hourlyCostBudgetUsd: 7.5 };

let outdir: string;
let template: Template;
let topicArn: unknown;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'cot-observability-test-'));
  const app = new App({ outdir });
  const topics = new Stack(app, 'Topics', { env: { account: '111111111111', region: 'eu-west-1' } });
  const topic = new sns.Topic(topics, 'AlarmTopic', { enforceSSL: true, masterKey: undefined });
  const stack = new ObservabilityStack(app, 'Observability', {
    env: { account: '111111111111', region: 'eu-west-1' },
    alarmTopic: topic,
    members: MEMBERS,
    thresholds: THRESHOLDS,
    namePrefix: 'Cot',
  });
  Validations.of(stack).addPlugins(new AwsSolutionsChecks(stack));
  // Throws on any unacknowledged cdk-nag finding.
  app.synth();
  template = Template.fromStack(stack);
  topicArn = stack.resolve(topic.topicArn);
});

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const alarms = () => template.findResources('AWS::CloudWatch::Alarm') as Resources;
/** The alarm whose metrics include `metric` (optionally with a dimension value). */
function alarmOn(metric: string, dimension?: string): Record<string, any> {
  const found = Object.values(alarms()).filter((a) => {
    const text = JSON.stringify(a.Properties);
    return text.includes(`"MetricName":"${metric}"`) && (dimension === undefined || text.includes(`"Value":"${dimension}"`));
  });
  if (found.length !== 1) throw new Error(`expected one alarm on ${metric} ${dimension ?? ''}, found ${found.length}`);
  return found[0]!.Properties;
}

describe('observability stack', () => {
  it('alarms on the job failure rate, the overhead p90, each advisor\'s model error rate and the hourly cost, to the alarm topic', () => {
    expect(Object.keys(alarms())).toHaveLength(3 + MEMBERS.length);
    for (const alarm of Object.values(alarms())) {
      expect(alarm.Properties.AlarmActions).toEqual([expect.objectContaining(topicArn as object)]);
      expect(alarm.Properties.TreatMissingData).toBe('notBreaching');
    }
    const failure = alarmOn(METRIC.jobsFailed);
    expect(failure).toMatchObject({ Threshold: 10, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 3, DatapointsToAlarm: 2 });
    expect(JSON.stringify(failure.Metrics)).toContain('100 * FILL(f,0)');

    expect(alarmOn(METRIC.jobOverhead)).toMatchObject({
      Threshold: 5000,
      ExtendedStatistic: 'p90',
      Namespace: METRICS_NAMESPACE,
      Dimensions: [{ Name: 'Service', Value: 'cot-worker' }],
      Period: 300,
    });
    expect(alarmOn(METRIC.cost)).toMatchObject({ Threshold: 7.5, Statistic: 'Sum', Period: 3600, MetricName: METRIC.cost });
    for (const member of MEMBERS) {
      const rate = alarmOn(METRIC.modelErrors, member);
      expect(rate).toMatchObject({ Threshold: 20, ComparisonOperator: 'GreaterThanThreshold' });
      const metrics = rate.Metrics as { MetricStat?: { Metric: { MetricName: string; Dimensions: { Name: string; Value: string }[] } } }[];
      const dims = metrics.filter((m) => m.MetricStat).map((m) => [m.MetricStat!.Metric.MetricName, m.MetricStat!.Metric.Dimensions]);
      expect(dims).toEqual(
        expect.arrayContaining([
          [METRIC.modelCalls, [{ Name: 'Advisor', Value: member }, { Name: 'Service', Value: 'cot-worker' }]],
          [METRIC.modelErrors, [{ Name: 'Advisor', Value: member }, { Name: 'Service', Value: 'cot-worker' }]],
        ]),
      );
    }
  });

  it('samples every POST /chat for X-Ray, so every job (the failed ones too) is traced', () => {
    template.resourceCountIs('AWS::XRay::SamplingRule', SAMPLING_RULES.length);
    template.hasResourceProperties('AWS::XRay::SamplingRule', {
      SamplingRule: {
        RuleName: 'Cot-every-job',
        ServiceName: 'cot-api',
        HTTPMethod: 'POST',
        URLPath: '/chat',
        FixedRate: 1,
        Priority: 100,
        Host: '*',
        ServiceType: '*',
        ResourceARN: '*',
        Version: 1,
      },
    });
    // Everything else on the API is sampled at a low rate, and only after POST /chat is matched.
    template.hasResourceProperties('AWS::XRay::SamplingRule', {
      SamplingRule: Match.objectLike({ RuleName: 'Cot-api-requests', HTTPMethod: '*', URLPath: '*', FixedRate: 0.05, Priority: 1000 }),
    });
  });

  it('shows the services\' metrics overall and per advisor on one dashboard', () => {
    const [dashboard] = Object.values(template.findResources('AWS::CloudWatch::Dashboard') as Resources);
    expect(dashboard!.Properties.DashboardName).toBe('Cot-circle-of-trust');
    const body = JSON.stringify(dashboard!.Properties.DashboardBody);
    for (const metric of Object.values(METRIC)) expect(body, metric).toContain(metric);
    for (const member of MEMBERS) expect(body).toContain(`\\"Advisor\\",\\"${member}\\"`);
    expect(body).toContain(METRICS_NAMESPACE);
  });
});

describe('the Circle of Trust app', () => {
  it('deploys the observability stack with the circle\'s members and the cdk.json thresholds', () => {
    const app = new App({ context: { ...readCdkJsonContext(), pingIssuer: 'https://auth.example.com/as', pingAudience: 'api', pingClientId: 'spa' } });
    const { observability, config } = buildCotApp(app, { webDistDir: join(tmpdir(), 'cot-no-web-build') });
    expect(Object.keys(observability.observability.alarms.modelErrorRate)).toEqual(MEMBERS);
    expect(observability.observability.alarms.hourlyCost.node.defaultChild).toBeDefined();
    expect(config.hourlyCostBudgetUsd).toBeGreaterThan(0);
    expect(observability.observability.samplingRules).toHaveLength(SAMPLING_RULES.length);
  });
});
