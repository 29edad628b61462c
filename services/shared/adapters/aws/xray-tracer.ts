/**
 * Tracer on AWS X-Ray (aws-xray-sdk-core 3.x). The SDK is handed in, loaded and configured
 * by services/shared/tracing.ts only when tracing is on: loading it switches on its async
 * hooks for the whole process.
 *
 * Context: the SDK's automatic mode (a cls-hooked namespace), because that is what its
 * captured SDK v3 clients read; manual mode would bind one parent per client, which
 * concurrent requests and jobs sharing a client cannot do. Each segment and subsegment is
 * entered with a synchronous `namespace.run`, so exactly what `fn` starts carries it and
 * nothing leaks into the caller (cls-hooked's runPromise only leaves its context when the
 * promise settles).
 */
import type * as XRay from 'aws-xray-sdk-core';
import type { InstrumentableClient } from '../../aws-clients.js';
import type { Span, Tracer } from '../../ports/tracer.js';
import { NOOP_SPAN } from '../../tracing.js';

/** The SDK as `import()` gives it: module.exports of the CommonJS package. */
export type XRaySdk = typeof XRay.default;
type TraceNode = XRay.Segment | XRay.Subsegment;

export class XRayTracer implements Tracer {
  constructor(private readonly xray: XRaySdk) {}

  segment<T>(name: string, fn: (span: Span) => Promise<T>): Promise<T> {
    return this.within(new this.xray.Segment(name), fn);
  }

  subsegment<T>(name: string, fn: (span: Span) => Promise<T>): Promise<T> {
    const parent = this.current();
    return parent ? this.within(parent.addNewSubsegment(name), fn) : fn(NOOP_SPAN);
  }

  /** Records every call of the client as a subsegment of the (sub)segment current at the call. */
  instrument<C extends InstrumentableClient>(client: C): C {
    return this.xray.captureAWSv3Client(client);
  }

  /** The current (sub)segment; the context-missing strategy set in tracing.ts keeps "none" quiet. */
  private current(): TraceNode | undefined {
    return this.xray.getSegment();
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
      node.close(errorOf(err));
      throw err;
    }
    return result.then(
      (value) => {
        node.close();
        return value;
      },
      (err: unknown) => {
        node.close(errorOf(err));
        throw err;
      },
    );
  }
}

function spanOf(node: TraceNode): Span {
  return {
    annotate(annotations) {
      for (const [key, value] of Object.entries(annotations)) node.addAnnotation(key, value);
    },
    flag(kind) {
      if (kind === 'fault') node.addFaultFlag();
      else node.addErrorFlag();
      if (kind === 'throttle') node.addThrottleFlag();
    },
  };
}

/** The SDK records an Error's name, message and stack, or a string as the message. */
const errorOf = (err: unknown): Error | string => (err instanceof Error ? err : String(err));
