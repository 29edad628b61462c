/**
 * The Bedrock Runtime wire format: event-stream frames for ConverseStream and the AWS
 * JSON error shape (x-amzn-ErrorType header plus {"message"} body) the SDK deserialises
 * into named exceptions.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { randomUUID } from 'node:crypto';
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { fromUtf8, toUtf8 } from '@smithy/util-utf8';

export type AnyRequest = IncomingMessage | Http2ServerRequest;
export type AnyResponse = ServerResponse | Http2ServerResponse;

const codec = new EventStreamCodec(toUtf8, fromUtf8);

const str = (value: string) => ({ type: 'string' as const, value });

/** One `:message-type event` frame, e.g. contentBlockDelta with {delta:{text}}. */
export function eventFrame(eventType: string, payload: unknown): Uint8Array {
  return codec.encode({
    headers: { ':event-type': str(eventType), ':content-type': str('application/json'), ':message-type': str('event') },
    body: fromUtf8(JSON.stringify(payload)),
  });
}

/** One `:message-type exception` frame; `memberName` is the union member, e.g. modelStreamErrorException. */
export function exceptionFrame(memberName: string, payload: { message: string } & Record<string, unknown>): Uint8Array {
  return codec.encode({
    headers: { ':exception-type': str(memberName), ':content-type': str('application/json'), ':message-type': str('exception') },
    body: fromUtf8(JSON.stringify(payload)),
  });
}

/** An error as Bedrock Runtime returns it. */
export interface AwsError {
  name: string;
  status: number;
  message: string;
}

/** The errors the stand-in can return, with Bedrock's status codes (from the SDK's model) and wording. */
export const AWS_ERRORS = {
  throttling: { name: 'ThrottlingException', status: 429, message: 'Too many requests, please wait before trying again.' },
  unavailable: { name: 'ServiceUnavailableException', status: 503, message: 'Bedrock is unable to process your request.' },
  internal: { name: 'InternalServerException', status: 500, message: 'The system encountered an unexpected error during processing. Try your request again.' },
  modelStream: { name: 'ModelStreamErrorException', status: 424, message: 'The model stream was interrupted by an error in the model. Try your request again.' },
  notFound: { name: 'UnknownOperationException', status: 404, message: 'Unknown operation.' },
} as const satisfies Record<string, AwsError>;

export const validationError = (message: string): AwsError => ({ name: 'ValidationException', status: 400, message });

/** The status line and headers, on either protocol (both take `(status, headers)`; their types differ only in overloads). */
export function writeHead(res: AnyResponse, status: number, headers: OutgoingHttpHeaders): void {
  (res as ServerResponse).writeHead(status, headers);
}

/** Writes an AWS JSON error response the SDK turns into an exception named `error.name`. */
export function writeAwsError(res: AnyResponse, error: AwsError): void {
  const body = JSON.stringify({ message: error.message });
  writeHead(res, error.status, {
    'content-type': 'application/json',
    'x-amzn-errortype': `${error.name}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
    'x-amzn-requestid': randomUUID(),
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Headers of a successful response (JSON or event stream). */
export function okHeaders(contentType: string): Record<string, string> {
  return { 'content-type': contentType, 'x-amzn-requestid': randomUUID() };
}

/** The member name of an exception in the ConverseStream union (ThrottlingException → throttlingException). */
export const memberNameOf = (errorName: string): string => errorName.charAt(0).toLowerCase() + errorName.slice(1);
