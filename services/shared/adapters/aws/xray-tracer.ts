/**
 * Tracer on AWS X-Ray (aws-xray-sdk-core 3.x). The SDK is handed in, loaded and configured
 * by xray-tracing.ts only when tracing is on, in the SDK's manual mode.
 *
 * Context: an AsyncLocalStorage of ours, not the SDK's automatic mode. Automatic mode keeps
 * the current segment in a cls-hooked namespace, whose async hooks (init and destroy on
 * every promise) cost a busy worker about a quarter of its CPU — measured under the push
 * benchmark, more than the job's own work — and cannot be switched off once loaded. With
 * the context ours, AWS SDK calls are recorded by our own middleware (`instrument`), which
 * writes the subsegment the SDK's captureAWSv3Client would (name = the service, namespace
 * aws, aws.operation/region/request_id/retries, the HTTP status, error/fault/throttle flags)
 * and sends the X-Amzn-Trace-Id header, under whatever (sub)segment is current at the call.
 * Each segment and subsegment is entered with a synchronous `run`, so exactly what `fn`
 * starts carries it and nothing leaks into the caller.
 *
 * Sampling: a segment that continues a trace follows the header's decision; a new one with
 * `request` asks the SDK's sampler (centralized rules, or the local ones tracing.ts set);
 * any other new segment is traced. Live segments (job runs) are sent in progress at once and
 * stream their finished subsegments, the way the SDK streams past its threshold, so a run
 * whose worker is killed still shows what it did.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type * as XRay from 'aws-xray-sdk-core';
import type { InstrumentableClient } from '../../aws-clients.js';
import { NOOP_SPAN, type Annotations, type SegmentOptions, type Span, type Tracer } from '../../ports/tracer.js';

/** The SDK as `import()` gives it: module.exports of the CommonJS package. */
export type XRaySdk = typeof XRay.default;
type TraceNode = XRay.Segment | XRay.Subsegment;
type SampleRequest = { host: string; httpMethod: string; urlPath: string; serviceName: string };
/** The sampler the SDK's middleware uses (not in its typings). */
type Sampler = { shouldSample(request: SampleRequest): boolean | string | undefined };

/** How often a live segment sends the subsegments that finished since the last time. */
const LIVE_SWEEP_MS = 1000;
/** Segments whose finished subsegments are streamed (see SegmentOptions.live). */
const liveSegments = new WeakSet<XRay.Segment>();

/** What the SDK's middleware stack is asked for (structurally, so no @smithy import is needed). */
interface MiddlewareStack {
  add(middleware: unknown, options: { name: string; step: 'build' }): void;
  remove(name: string): boolean;
}
interface CallContext {
  clientName?: string;
  commandName?: string;
}
interface CallArgs {
  input?: Record<string, unknown>;
  request?: { headers?: Record<string, string> };
}
interface CallMetadata {
  httpStatusCode?: number;
  requestId?: string;
  attempts?: number;
}
type CallNext = (args: CallArgs) => Promise<{ output?: { $metadata?: CallMetadata } }>;

/** The SDK's own plugin name, so instrumenting a client it already captured replaces that capture. */
const CALL_MIDDLEWARE = 'XRaySDKInstrumentation';

export class XRayTracer implements Tracer {
  private readonly context = new AsyncLocalStorage<TraceNode>();

  constructor(private readonly xray: XRaySdk) {}

  segment<T>(name: string, fn: (span: Span) => Promise<T>, options: SegmentOptions = {}): Promise<T> {
    const parent = options.parent ? this.xray.utils.processTraceData(options.parent) : undefined;
    const continues = Boolean(parent?.root && parent.parent);
    const segment = continues ? new this.xray.Segment(name, parent?.root, parent?.parent) : new this.xray.Segment(name);
    if (!this.sampled(segment, continues ? parent?.sampled : undefined, options.request)) segment.notTraced = true;
    if (!options.live) return this.within(segment, fn);
    liveSegments.add(segment);
    // Finished subsegments are also swept out on a timer: an SDK call can end after the last
    // subsegment of ours did (and a killed process never reaches the segment's close).
    const sweep = setInterval(() => streamFinished(segment), LIVE_SWEEP_MS);
    sweep.unref();
    let result: Promise<T>;
    try {
      result = this.within(segment, fn);
    } catch (err) {
      clearInterval(sweep);
      throw err;
    }
    // In progress, with what fn annotated at once: a run that never ends (SIGKILL) is still in its trace.
    if (!segment.isClosed()) segment.flush();
    return result.finally(() => clearInterval(sweep));
  }

  subsegment<T>(name: string, fn: (span: Span) => Promise<T>): Promise<T> {
    const parent = this.current();
    if (!parent) return fn(NOOP_SPAN);
    const node = parent.addNewSubsegment(name);
    streamFinished(node.segment);
    return this.within(node, fn);
  }

  annotate(annotations: Annotations): void {
    const node = this.current();
    if (node) spanOf(node).annotate(annotations);
  }

  /**
   * Records every call of the client as a subsegment of the (sub)segment current at the call
   * (in the `build` step, so one subsegment spans the SDK's retries; `aws.retries` counts them).
   * Calls outside any segment (queue polling, start-up) are simply not traced.
   */
  instrument<C extends InstrumentableClient>(client: C): C {
    const stack = client.middlewareStack as unknown as MiddlewareStack;
    const config = client.config as { region?: string | (() => Promise<string>) };
    stack.remove(CALL_MIDDLEWARE);
    stack.add(
      (next: CallNext, context: CallContext) => async (args: CallArgs) => {
        const parent = this.current();
        return parent ? awsCall(parent, next, context, args, config.region) : next(args);
      },
      { name: CALL_MIDDLEWARE, step: 'build' },
    );
    return client;
  }

  private current(): TraceNode | undefined {
    return this.context.getStore();
  }

  /** The header's decision when there is one ('1' / '0'), else the sampling rules for `request`, else traced. */
  private sampled(segment: XRay.Segment, decision: string | undefined, request: SegmentOptions['request']): boolean {
    if (decision === '1' || decision === '0') return decision === '1';
    if (!request) return true;
    const sampler = (this.xray.middleware as unknown as { sampler: Sampler }).sampler;
    // A host must be given: the SDK's local sampler takes a request without one as matching its first rule.
    const outcome = sampler.shouldSample({ host: segment.name, httpMethod: request.method, urlPath: request.path, serviceName: segment.name });
    if (typeof outcome === 'string') segment.setMatchedSamplingRule(outcome);
    return Boolean(outcome);
  }

  /** Runs `fn` with `node` current and closes `node` when fn's promise settles. */
  private within<T>(node: TraceNode, fn: (span: Span) => Promise<T>): Promise<T> {
    let result: Promise<T>;
    try {
      result = this.context.run(node, () => fn(spanOf(node)));
    } catch (err) {
      close(node, errorOf(err));
      throw err;
    }
    return result.then(
      (value) => {
        close(node);
        return value;
      },
      (err: unknown) => {
        close(node, errorOf(err));
        throw err;
      },
    );
  }
}

/** One AWS SDK call as a subsegment of `parent`, carrying its trace header to the service. */
async function awsCall(parent: TraceNode, next: CallNext, context: CallContext, args: CallArgs, region: string | (() => Promise<string>) | undefined) {
  const service = (context.clientName ?? 'AWS').replace(/Client$/, '');
  const operation = (context.commandName ?? '').replace(/Command$/, '');
  const node = parent.notTraced ? parent.addNewSubsegmentWithoutSampling(service) : parent.addNewSubsegment(service);
  node.addAttribute('namespace', 'aws');
  const root = rootOf(parent);
  if (args.request?.headers) {
    const lineage = Object.entries(root.additionalTraceData ?? {}).map(([key, value]) => `;${key}=${String(value)}`);
    args.request.headers['X-Amzn-Trace-Id'] = `Root=${root.trace_id};Parent=${node.id};Sampled=${node.notTraced ? '0' : '1'}${lineage.join('')}`;
  }
  const describe = async (metadata: CallMetadata | undefined, err?: unknown) => {
    const input = args.input ?? {};
    node.addAttribute('aws', {
      operation,
      region: typeof region === 'function' ? await region().catch(() => undefined) : region,
      request_id: metadata?.requestId,
      retries: Math.max(0, (metadata?.attempts ?? 1) - 1),
      table_name: typeof input.TableName === 'string' ? input.TableName : undefined,
      queue_url: typeof input.QueueUrl === 'string' ? input.QueueUrl : undefined,
    });
    const status = metadata?.httpStatusCode;
    if (status) node.addAttribute('http', { response: { status } });
    if (status === 429 || isThrottle(err)) node.addThrottleFlag();
    if (status && status >= 500) node.addFaultFlag();
    else if (status && status >= 400) node.addErrorFlag();
  };
  try {
    const result = await next(args);
    await describe(result.output?.$metadata);
    close(node);
    return result;
  } catch (err) {
    await describe((err as { $metadata?: CallMetadata }).$metadata, err);
    close(node, errorOf(err));
    throw err;
  }
}

/** The SDK's own classification of a throttling error ($retryable.throttling), or its name. */
function isThrottle(err: unknown): boolean {
  const e = err as { $retryable?: { throttling?: boolean }; name?: string } | undefined;
  return Boolean(e?.$retryable?.throttling) || /Throttl|TooManyRequests/.test(e?.name ?? '');
}

function rootOf(node: TraceNode): XRay.Segment {
  return 'segment' in node && node.segment ? (node.segment as XRay.Segment) : (node as XRay.Segment);
}

function close(node: TraceNode, err?: Error | string): void {
  node.close(err);
  if (!isSegment(node)) streamFinished(node.segment);
}

const isSegment = (node: TraceNode): node is XRay.Segment => !('segment' in node && node.segment);

/**
 * For a live segment still open: sends every finished subsegment (and finished descendants
 * of open ones) as its own document and drops it from the tree, as the SDK's streaming does.
 */
function streamFinished(segment: XRay.Segment | undefined): void {
  if (!segment || !liveSegments.has(segment) || segment.isClosed()) return;
  segment.subsegments = (segment.subsegments ?? []).filter((child) => !child.streamSubsegments());
}

function spanOf(node: TraceNode): Span {
  return {
    traceId: rootOf(node).trace_id,
    annotate(annotations) {
      for (const [key, value] of Object.entries(annotations)) node.addAnnotation(key, value);
    },
    flag(kind) {
      if (kind === 'fault') node.addFaultFlag();
      else node.addErrorFlag();
      if (kind === 'throttle') node.addThrottleFlag();
    },
    record(name, startMs, endMs, annotations = {}) {
      const child = node.addNewSubsegment(name);
      child.start_time = startMs / 1000;
      for (const [key, value] of Object.entries(annotations)) child.addAnnotation(key, value);
      child.close();
      (child as unknown as { end_time: number }).end_time = endMs / 1000;
      streamFinished(rootOf(node));
    },
  };
}

/** The SDK records an Error's name, message and stack, or a string as the message. */
const errorOf = (err: unknown): Error | string => (err instanceof Error ? err : String(err));
