/** A typed client for the Bedrock stand-in's control plane, for tests and the launcher. */
import type { CallFilter } from './call-log.js';
import type { ArmedFault, ArmedReply, CallLogEntry, Fault, ScriptedReply, StandinConfig } from './standin.types.js';

export type { CallLogEntry, Fault, ScriptedReply, StandinConfig } from './standin.types.js';

/** The control plane answered with an error. */
export class BedrockControlError extends Error {
  override name = 'BedrockControlError';
  constructor(readonly status: number, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

export class BedrockControl {
  constructor(private readonly controlUrl: string) {}

  /** The call log, oldest first, optionally filtered (jobId and step read requestMetadata). */
  async calls(filter: CallFilter = {}): Promise<CallLogEntry[]> {
    const query = new URLSearchParams(Object.entries(filter).filter((e): e is [string, string] => e[1] !== undefined));
    const qs = query.size ? `?${query}` : '';
    return (await this.request<{ calls: CallLogEntry[] }>('GET', `/calls${qs}`)).calls;
  }

  /** Clears the call log, faults and scripted replies and restores the start-up timing. */
  async reset(): Promise<void> {
    await this.request('POST', '/reset');
  }

  /**
   * Arms a fault for the next `times` matching calls (default 1; -1 = every call):
   * an error, a hang, a broken stream, or `{type: 'misbehave', case}` from fixtures/misbehaviour.
   */
  async inject(fault: Fault): Promise<ArmedFault> {
    return (await this.request<{ fault: ArmedFault }>('POST', '/faults', fault)).fault;
  }

  /** The faults still armed. */
  async faults(): Promise<ArmedFault[]> {
    return (await this.request<{ faults: ArmedFault[] }>('GET', '/faults')).faults;
  }

  /** The next `times` matching calls (default 1; -1 = every call) answer `text` instead of the simulation. */
  async script(reply: ScriptedReply): Promise<ArmedReply> {
    return (await this.request<{ reply: ArmedReply }>('POST', '/replies', reply)).reply;
  }

  /** The scripted replies still armed. */
  async replies(): Promise<ArmedReply[]> {
    return (await this.request<{ replies: ArmedReply[] }>('GET', '/replies')).replies;
  }

  /** Changes token timing or the bad-day switch (`badDay: {rate, seed}`, null to turn it off) for later calls. */
  async configure(config: Partial<StandinConfig>): Promise<StandinConfig> {
    return (await this.request<{ config: StandinConfig }>('POST', '/config', config)).config;
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(new URL(path, this.controlUrl), {
      method,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = (await res.json().catch(() => undefined)) as { error?: { message?: string } } | undefined;
    if (!res.ok) throw new BedrockControlError(res.status, `bedrock control ${method} ${path}: ${data?.error?.message ?? res.statusText}`);
    return data as T;
  }
}
