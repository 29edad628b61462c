/** Injected faults: the next matching calls fail (or misbehave) in a chosen way. */
import type { ArmedFault, StepKind } from './standin.types.js';

export interface CallTarget {
  modelId: string;
  jobId?: string;
  step?: string;
  kind: StepKind;
  question?: string;
}

export class FaultBook {
  private faults: ArmedFault[] = [];

  inject(fault: ArmedFault): void {
    this.faults.push({ ...fault, match: { ...fault.match } });
  }

  /** The first armed fault matching the call, used up by one; undefined when none applies. */
  take(call: CallTarget): Pick<ArmedFault, 'type' | 'case'> | undefined {
    const fault = this.faults.find((f) => matches(f, call));
    if (!fault) return undefined;
    if (fault.times > 0) fault.times -= 1;
    this.faults = this.faults.filter((f) => f.times !== 0);
    return { type: fault.type, case: fault.case };
  }

  list(): ArmedFault[] {
    return this.faults.map((f) => ({ ...f, match: { ...f.match } }));
  }

  reset(): void {
    this.faults = [];
  }
}

function matches(fault: ArmedFault, call: CallTarget): boolean {
  const m = fault.match;
  return (
    fault.times !== 0 &&
    (m.modelId === undefined || m.modelId === call.modelId) &&
    (m.jobId === undefined || m.jobId === call.jobId) &&
    (m.step === undefined || m.step === call.step) &&
    (m.kind === undefined || m.kind === call.kind) &&
    (m.question === undefined || (call.question ?? '').toLowerCase().includes(m.question.toLowerCase()))
  );
}
