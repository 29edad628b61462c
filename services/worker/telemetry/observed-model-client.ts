/**
 * The model client with each call observed: time to first token and duration, tokens,
 * cost, outcome and error name go onto the call's trace subsegment (the step runner's
 * `model-call`), into metrics per advisor, into the run's timeline and into one log line;
 * lines written during the call carry its step and attempt. Who was called is read from
 * the call's requestMetadata {jobId, step, attempt}, which every model call carries.
 * Never the prompt or the answer: those stay out of telemetry.
 */
import type { Circle } from '../../shared/circle/circle.js';
import { costOf, memberOf } from '../../shared/circle/circle.js';
import { DIMENSION, METRIC } from '../../shared/contracts/telemetry.js';
import type { ModelCallRecord } from '../../shared/contracts/timeline.js';
import { ModelCallError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logging.js';
import type { Clock, MetricValue, ModelClient, ModelRequest, ModelResponse, Tracer } from '../../shared/ports/index.js';
import { withLogContext } from '../../shared/telemetry/log-context.js';
import type { ActiveRun } from './active-run.js';

export interface ObservedModelClientDeps {
  tracer: Tracer;
  circle: Circle;
  clock: Clock;
  logger: Logger;
}

export interface ModelCallSink {
  activeRun(jobId: string): ActiveRun | undefined;
  record(values: MetricValue[], dimensions: Record<string, string>[], properties: Record<string, string | number>): void;
}

const STAGE_OF_KIND: Record<string, string> = { advise: 'advising', review: 'reviewing', synthesize: 'synthesizing' };

export class ObservedModelClient implements ModelClient {
  constructor(
    private readonly inner: ModelClient,
    private readonly deps: ObservedModelClientDeps,
    private readonly sink: ModelCallSink,
  ) {}

  converseStream(request: ModelRequest): Promise<ModelResponse> {
    return this.observed(request, (r) => this.inner.converseStream(r));
  }

  converse(request: ModelRequest): Promise<ModelResponse> {
    return this.observed(request, (r) => this.inner.converse(r));
  }

  private observed(request: ModelRequest, call: (request: ModelRequest) => Promise<ModelResponse>): Promise<ModelResponse> {
    const { jobId = '', step = '', attempt = '0' } = request.requestMetadata;
    return withLogContext({ step, attempt: Number(attempt) }, () => this.observe(jobId, step, Number(attempt), request, call));
  }

  private async observe(jobId: string, stepId: string, attempt: number, request: ModelRequest, call: (request: ModelRequest) => Promise<ModelResponse>): Promise<ModelResponse> {
    const { clock } = this.deps;
    const [kind = '', reviewer] = stepId.split('.', 2);
    const advisorId = reviewer ?? this.deps.circle.chair.id;
    const startedAt = clock.now();
    let firstAt: number | undefined;
    const onDelta = (text: string) => {
      firstAt ??= clock.now();
      request.onDelta?.(text);
    };
    let response: ModelResponse | undefined;
    let outcome = 'ok';
    try {
      response = await call({ ...request, onDelta });
      return response;
    } catch (err) {
      outcome = err instanceof ModelCallError ? err.errorName : err instanceof Error ? err.name : 'Error';
      throw err;
    } finally {
      const member = memberOf(this.deps.circle, advisorId);
      const usage = response?.usage ?? { inputTokens: 0, outputTokens: 0 };
      const call: ModelCallRecord = {
        stepId,
        attempt,
        advisorId,
        modelId: request.modelId,
        startedAt,
        ms: clock.now() - startedAt,
        ...(firstAt !== undefined ? { ttftMs: firstAt - startedAt } : {}),
        outcome,
        inputTokens: usage.inputTokens,
        outputTokens: usage.outputTokens,
        costUsd: response && member ? costOf(member, usage) : 0,
      };
      this.report(jobId, kind, call);
    }
  }

  private report(jobId: string, kind: string, call: ModelCallRecord): void {
    const ok = call.outcome === 'ok';
    this.deps.tracer.annotate({
      advisor: call.advisorId,
      stage: STAGE_OF_KIND[kind] ?? kind,
      ...(call.ttftMs !== undefined ? { ttftMs: call.ttftMs } : {}),
      inputTokens: call.inputTokens,
      outputTokens: call.outputTokens,
      ...(ok ? {} : { error: call.outcome }),
    });
    const values: MetricValue[] = [
      { name: METRIC.modelCalls, value: 1 },
      { name: METRIC.modelLatency, value: call.ms },
    ];
    if (call.ttftMs !== undefined) values.push({ name: METRIC.timeToFirstToken, value: call.ttftMs });
    if (ok) {
      values.push({ name: METRIC.inputTokens, value: call.inputTokens }, { name: METRIC.outputTokens, value: call.outputTokens }, { name: METRIC.cost, value: call.costUsd });
    } else {
      values.push({ name: METRIC.modelErrors, value: 1 });
    }
    this.sink.record(values, [{}, { [DIMENSION.advisor]: call.advisorId }], { jobId, step: call.stepId, attempt: call.attempt, outcome: call.outcome });
    this.sink.activeRun(jobId)?.recorder.modelCall(call);
    // Step and attempt come from the log context; never the prompt or the answer.
    const { startedAt: _startedAt, stepId: _stepId, attempt: _attempt, ...fields } = call;
    if (ok) this.deps.logger.info(fields, 'model call');
    else this.deps.logger.warn(fields, 'model call failed');
  }
}
