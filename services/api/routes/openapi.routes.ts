/** GET /openapi.json: the OpenAPI 3.1 description of this API (public, like /healthz). */
import type { Circle } from '../../shared/circle/circle.js';
import type { ApiContext, ApiMiddleware } from '../middleware/context.js';
import { buildOpenApiDocument } from '../openapi/openapi.document.js';
import type { ChatLimits } from '../schemas/chat.schema.js';

export function openApiDocument(circle: Circle, limits: ChatLimits): ApiMiddleware {
  // Built once: it depends only on the circle and the limits this process started with.
  const body = JSON.stringify(buildOpenApiDocument(circle, limits));
  return async function openApiDocument(ctx: ApiContext) {
    ctx.type = 'application/json';
    ctx.body = body;
  };
}
