/**
 * What an on-call person watches: a CloudWatch dashboard of the services' EMF metrics
 * (overall and per advisor), the alarms that page (to the alarm topic), and the X-Ray
 * sampling rules. Metric, dimension and rule names come from the shared telemetry contract
 * the services write with, so the dashboard cannot drift from what is emitted.
 *
 * Sampling is head-based: X-Ray decides when a trace starts (the API's POST /chat) and every
 * later part of the job follows the decision through the trace header — SQS, every worker
 * run. Whether a job will fail is not known then, so the only way to trace every failed job
 * is to trace every job: the rule for POST /chat samples all of them (one trace per job).
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as xray from 'aws-cdk-lib/aws-xray';
import { Construct } from 'constructs';
import { SERVICE } from '../../../services/shared/contracts/names.js';
import { DIMENSION, METRIC, METRICS_NAMESPACE, SAMPLING_RULES, type MetricName, type SamplingRule } from '../../../services/shared/contracts/telemetry.js';

export interface AlarmThresholds {
  /** Failed jobs, % of jobs that ended, over 5 minutes. */
  readonly jobFailurePercent: number;
  /** p90 of the overhead over the models' critical path, ms, over 5 minutes. */
  readonly overheadP90Ms: number;
  /** Failed model calls, % of one advisor's calls, over 5 minutes. */
  readonly modelErrorPercent: number;
  /** USD of model tokens per hour (circle prices). */
  readonly hourlyCostBudgetUsd: number;
}

export interface JobObservabilityProps {
  /** Where every alarm notifies (the data stack's topic). */
  readonly alarmTopic: sns.ITopic;
  /** Circle member ids (advisors and the chair): one set of per-advisor widgets and an error-rate alarm each. */
  readonly members: readonly string[];
  readonly thresholds: AlarmThresholds;
  /** Prefix of the dashboard and sampling rule names (several deployments can share an account). */
  readonly namePrefix: string;
  /** Sampling rules to deploy; default the shared SAMPLING_RULES. */
  readonly samplingRules?: readonly SamplingRule[];
}

const FIVE_MINUTES = Duration.minutes(5);

/** Dashboard + alarms + X-Ray sampling rules. */
export class JobObservability extends Construct {
  public readonly dashboard: cloudwatch.Dashboard;
  public readonly alarms: {
    readonly jobFailureRate: cloudwatch.Alarm;
    readonly overheadP90: cloudwatch.Alarm;
    readonly hourlyCost: cloudwatch.Alarm;
    /** By member id. */
    readonly modelErrorRate: Readonly<Record<string, cloudwatch.Alarm>>;
  };
  public readonly samplingRules: xray.CfnSamplingRule[];

  constructor(scope: Construct, id: string, props: JobObservabilityProps) {
    super(scope, id);
    const { thresholds } = props;
    const notify = new actions.SnsAction(props.alarmTopic);
    const alarm = (alarmId: string, options: cloudwatch.AlarmProps): cloudwatch.Alarm => {
      const created = new cloudwatch.Alarm(this, alarmId, { treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING, ...options });
      created.addAlarmAction(notify);
      return created;
    };

    const jobFailureRate = alarm('JobFailureRateAlarm', {
      alarmDescription: `More than ${thresholds.jobFailurePercent} % of the jobs that ended failed, in 2 of the last 3 five-minute periods: look at the failed jobs' traces (annotation status = "failed").`,
      metric: failureRate(),
      threshold: thresholds.jobFailurePercent,
      evaluationPeriods: 3,
      datapointsToAlarm: 2,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    const overheadP90 = alarm('OverheadP90Alarm', {
      alarmDescription: `The p90 overhead of jobs over the models' critical path exceeds ${thresholds.overheadP90Ms} ms for 15 minutes: queueing, leases or commits are slow (see the dashboard's queue wait and commit latency).`,
      metric: worker(METRIC.jobOverhead, 'p90'),
      threshold: thresholds.overheadP90Ms,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    const hourlyCost = alarm('HourlyCostAlarm', {
      alarmDescription: `Model tokens cost more than ${thresholds.hourlyCostBudgetUsd} USD in an hour (circle prices): the configured budget.`,
      metric: worker(METRIC.cost, 'Sum', {}, Duration.hours(1)),
      threshold: thresholds.hourlyCostBudgetUsd,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    });
    const modelErrorRate: Record<string, cloudwatch.Alarm> = {};
    for (const member of props.members) {
      modelErrorRate[member] = alarm(`ModelErrorRateAlarm${pascal(member)}`, {
        alarmDescription: `More than ${thresholds.modelErrorPercent} % of ${member}'s model calls failed, in 2 of the last 3 five-minute periods: Bedrock throttling or an outage of that model (see ModelErrors by advisor).`,
        metric: errorRate(member),
        threshold: thresholds.modelErrorPercent,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      });
    }
    this.alarms = { jobFailureRate, overheadP90, hourlyCost, modelErrorRate };

    this.samplingRules = (props.samplingRules ?? SAMPLING_RULES).map(
      (rule) =>
        new xray.CfnSamplingRule(this, `SamplingRule${pascal(rule.name)}`, {
          samplingRule: {
            ruleName: `${props.namePrefix}-${rule.name}`.slice(0, 32),
            priority: rule.priority,
            fixedRate: rule.rate,
            reservoirSize: rule.reservoir,
            serviceName: rule.service,
            serviceType: '*',
            host: '*',
            httpMethod: rule.method,
            urlPath: rule.path,
            resourceArn: '*',
            version: 1,
          },
        }),
    );

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `${props.namePrefix}-circle-of-trust`,
      defaultInterval: Duration.hours(3),
      widgets: [
        [new cloudwatch.TextWidget({ markdown: '## Jobs\nEvery job is one X-Ray trace (POST /chat → SQS → every worker run); a job\'s timeline: `GET /jobs/{id}/timeline`.', width: 24, height: 2 })],
        [
          graph('Jobs', [METRIC.jobsStarted, METRIC.jobsSucceeded, METRIC.jobsDegraded, METRIC.jobsFailed, METRIC.jobsCancelled].map((n) => worker(n, 'Sum'))),
          graph('Failure rate (%)', [failureRate()], { leftAnnotations: [{ value: thresholds.jobFailurePercent, label: 'alarm' }] }),
          graph('Job latency and overhead (p50, p90)', [
            worker(METRIC.jobLatency, 'p50'),
            worker(METRIC.jobLatency, 'p90'),
            worker(METRIC.criticalPath, 'p50'),
            worker(METRIC.jobOverhead, 'p50'),
            worker(METRIC.jobOverhead, 'p90'),
          ]),
          graph('Stage latency (p50)', ['advising', 'reviewing', 'synthesizing'].map((stage) => worker(METRIC.stageLatency, 'p50', { [DIMENSION.stage]: stage }))),
        ],
        [
          graph('Queue wait, queue age at receive (p90)', [worker(METRIC.queueWait, 'p90'), worker(METRIC.queueAge, 'p90')]),
          graph('Durable execution', [METRIC.resumes, METRIC.leasesLost, METRIC.fencedRuns, METRIC.deadLettered].map((n) => worker(n, 'Sum'))),
          graph('Commit latency (p50, p99)', [worker(METRIC.commitLatency, 'p50'), worker(METRIC.commitLatency, 'p99')]),
          graph('Retries and repairs by error', [search(METRIC.retries), search(METRIC.repairs)]),
        ],
        [
          graph('Live push', [worker(METRIC.pushes, 'Sum'), worker(METRIC.pushGone, 'Sum')]),
          graph('Push latency (p50, p99)', [worker(METRIC.pushLatency, 'p50'), worker(METRIC.pushLatency, 'p99')]),
          graph('Cost per hour (USD)', [worker(METRIC.cost, 'Sum', {}, Duration.hours(1))], { leftAnnotations: [{ value: thresholds.hourlyCostBudgetUsd, label: 'budget' }] }),
          new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [jobFailureRate, overheadP90, hourlyCost, ...Object.values(modelErrorRate)], width: 6, height: 6 }),
        ],
        [new cloudwatch.TextWidget({ markdown: '## Per advisor', width: 24, height: 1 })],
        [
          graph('Model latency (p90)', perMember(props.members, METRIC.modelLatency, 'p90')),
          graph('Time to first token (p90)', perMember(props.members, METRIC.timeToFirstToken, 'p90')),
          graph('Model error rate (%)', props.members.map(errorRate), { leftAnnotations: [{ value: thresholds.modelErrorPercent, label: 'alarm' }] }),
          graph('Model calls', perMember(props.members, METRIC.modelCalls, 'Sum')),
        ],
        [
          graph('Output tokens', perMember(props.members, METRIC.outputTokens, 'Sum')),
          graph('Input tokens', perMember(props.members, METRIC.inputTokens, 'Sum')),
          graph('Cost (USD per 5 minutes)', perMember(props.members, METRIC.cost, 'Sum')),
        ],
      ],
    });
  }
}

/** A worker metric: {Service: cot-worker} plus `dimensions`. */
function worker(name: MetricName, statistic: string, dimensions: Record<string, string> = {}, period: Duration = FIVE_MINUTES): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: name,
    dimensionsMap: { [DIMENSION.service]: SERVICE.worker, ...dimensions },
    statistic,
    period,
  });
}

/** A graph legend that tells p50 from p90 and one advisor from another. */
function labelled(metric: cloudwatch.IMetric): cloudwatch.IMetric {
  if (!(metric instanceof cloudwatch.Metric)) return metric;
  const dimensions = Object.entries(metric.dimensions ?? {}).filter(([key]) => key !== DIMENSION.service).map(([, value]) => String(value));
  return metric.with({ label: [metric.metricName, ...dimensions, metric.statistic].join(' ') });
}

function perMember(members: readonly string[], name: MetricName, statistic: string): cloudwatch.Metric[] {
  return members.map((member) => worker(name, statistic, { [DIMENSION.advisor]: member }));
}

/** % of the jobs that ended (succeeded, failed, cancelled) that failed; 0 without jobs. */
function failureRate(): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    label: 'failed %',
    expression: 'IF((FILL(s,0)+FILL(f,0)+FILL(c,0)) > 0, 100 * FILL(f,0) / (FILL(s,0)+FILL(f,0)+FILL(c,0)), 0)',
    usingMetrics: { s: worker(METRIC.jobsSucceeded, 'Sum'), f: worker(METRIC.jobsFailed, 'Sum'), c: worker(METRIC.jobsCancelled, 'Sum') },
    period: FIVE_MINUTES,
  });
}

/** % of a member's model calls that failed; 0 without calls. */
function errorRate(member: string): cloudwatch.MathExpression {
  const advisor = { [DIMENSION.advisor]: member };
  // Ids unique per member: one graph shows every member's rate.
  const id = member.toLowerCase().replace(/[^a-z0-9]/g, '');
  const [calls, errors] = [`calls${id}`, `errors${id}`];
  return new cloudwatch.MathExpression({
    label: `${member} errors %`,
    expression: `IF(FILL(${calls},0) > 0, 100 * FILL(${errors},0) / ${calls}, 0)`,
    usingMetrics: { [calls]: worker(METRIC.modelCalls, 'Sum', advisor), [errors]: worker(METRIC.modelErrors, 'Sum', advisor) },
    period: FIVE_MINUTES,
  });
}

/** Every Error dimension value of a metric (retries by error): the values are not known in advance. */
function search(name: MetricName): cloudwatch.MathExpression {
  return new cloudwatch.MathExpression({
    label: '',
    expression: `SEARCH('{${METRICS_NAMESPACE},${DIMENSION.service},${DIMENSION.error}} MetricName="${name}"', 'Sum', 300)`,
    usingMetrics: {},
    period: FIVE_MINUTES,
  });
}

function graph(title: string, left: cloudwatch.IMetric[], options: Partial<cloudwatch.GraphWidgetProps> = {}): cloudwatch.GraphWidget {
  return new cloudwatch.GraphWidget({ title, left: left.map(labelled), width: 6, height: 6, ...options });
}

const pascal = (s: string): string => s.replace(/(^|[^A-Za-z0-9])([A-Za-z0-9])/g, (_m, _p, c: string) => c.toUpperCase());
