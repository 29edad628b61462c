/**
 * Tracer on AWS X-Ray (aws-xray-sdk-core 3.x). The SDK is handed in, loaded and configured
 * by xray-tracing.ts only when tracing is on: loading it switches on its async
 * hooks for the whole process.
 *
 * Context: the SDK's automatic mode (a cls-hooked namespace), because that is what its
 * captured SDK v3 clients read; manual mode would bind one parent per client, which
 * concurrent requests and jobs sharing a client cannot do. Each segment and subsegment is
 * entered with a synchronous `namespace.run`, so exactly what `fn` starts carries it and
 * nothing leaks into the caller (cls-hooked's runPromise only leaves its context when the
 * promise settles).
 *
 * Sampling: a segment that continues a trace follows the header's decision; a new one with
 * `request` asks the SDK's sampler (centralized rules, or the local ones tracing.ts set);
 * any other new segment is traced. Live segments (job runs) are sent in progress at once and
 * stream their finished subsegments, the way the SDK streams past its threshold, so a run
 * whose worker is killed still shows what it did.
 */
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

export class XRayTracer implements Tracer {
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

  /** Records every call of the client as a subsegment of the (sub)segment current at the call. */
  instrument<C extends InstrumentableClient>(client: C): C {
    return this.xray.captureAWSv3Client(client);
  }

  /** The current (sub)segment; the context-missing strategy set in tracing.ts keeps "none" quiet. */
  private current(): TraceNode | undefined {
    return this.xray.getSegment();
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
      result = this.xray.getNamespace().runAndReturn(() => {
        this.xray.setSegment(node);
        return fn(spanOf(node));
      });
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
