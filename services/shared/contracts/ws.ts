/**
 * The live-progress protocol over the WebSocket API (DESIGN.md §5). All frames are JSON
 * text of at most MAX_FRAME_BYTES: one ServerMessage, or several as a JSON array (to be
 * applied in order), or one `chunk` of a message too large for a frame.
 * ws-client.ts is the client side: FrameDecoder reads all three, applyMessage follows a job.
 */
import type { JobStatus, JobView, TransitionRecord } from './job.js';

/** API Gateway WebSocket limits (a frame is 32 KB, a message 128 KB). */
export const MAX_FRAME_BYTES = 32 * 1024;
export const MAX_MESSAGE_BYTES = 128 * 1024;
/** API Gateway closes idle connections after 10 minutes and any connection after 2 hours. */
export const IDLE_TIMEOUT_SECONDS = 10 * 60;
export const MAX_CONNECTION_AGE_SECONDS = 2 * 60 * 60;

/**
 * The header the WebSocket API's integration adds to every route request it makes to the
 * API service (`/ws/connect`, `/ws/default`, `/ws/disconnect`), carrying a shared secret:
 * the API serves those routes to nobody else. Its value never leaves the integration.
 */
export const WS_INTEGRATION_SECRET_HEADER = 'x-cot-integration-secret';

// Client → server (routed by `action`, API Gateway's route selection expression $request.body.action)
export type ClientMessage =
  | { action: 'subscribe'; jobId: string; afterSeq?: number }
  | { action: 'unsubscribe'; jobId: string }
  | { action: 'ping' };

// Server → client
export interface JobViewMessage {
  type: 'job.view';
  jobId: string;
  seq: number;
  view: JobView;
}
export interface JobTransitionMessage {
  type: 'job.transition';
  jobId: string;
  seq: number;
  transition: TransitionRecord;
}
export interface StepDeltaMessage {
  type: 'step.delta';
  jobId: string;
  stepId: string;
  attempt: number;
  /** Offset in characters of `text` within the step's full output, so clients can de-duplicate. */
  offset: number;
  text: string;
}
export interface JobDoneMessage {
  type: 'job.done';
  jobId: string;
  seq: number;
  status: JobStatus;
  reason?: string;
}
/** Large payloads are split into parts no frame of which exceeds MAX_FRAME_BYTES. */
export interface ChunkMessage {
  type: 'chunk';
  id: string;
  index: number;
  count: number;
  data: string;
}
export interface ErrorMessage {
  type: 'error';
  code: string;
  message: string;
  jobId?: string;
}
export interface PongMessage {
  type: 'pong';
}
export interface SubscribedMessage {
  type: 'subscribed';
  jobId: string;
}

export type ServerMessage =
  | JobViewMessage
  | JobTransitionMessage
  | StepDeltaMessage
  | JobDoneMessage
  | ChunkMessage
  | ErrorMessage
  | PongMessage
  | SubscribedMessage;
