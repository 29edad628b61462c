/** GET /advisors: who is in the circle (no personas' prompts, only their short titles). */
import type { Circle, CircleMember } from '../../shared/circle/circle.js';
import type { CircleSummary, MemberSummary } from '../../shared/contracts/api.js';
import { MODES } from '../schemas/chat.schema.js';
import type { ApiContext, ApiMiddleware } from '../middleware/context.js';
import type { ChatLimits } from '../schemas/chat.schema.js';

function summaryOfMember(member: CircleMember): MemberSummary {
  const title = /^You are the ([A-Z][\w-]*)/.exec(member.persona)?.[1];
  const summary: MemberSummary = { id: member.id, name: member.name, modelId: member.modelId };
  if (title) summary.title = title;
  return summary;
}

/** The circle as a caller may see it, with what POST /chat accepts. */
export function circleSummary(circle: Circle, limits: ChatLimits): CircleSummary {
  return {
    advisors: circle.advisors.map(summaryOfMember),
    chair: summaryOfMember(circle.chair),
    quorum: circle.quorum,
    modes: [...MODES],
    limits: { maxQuestionChars: limits.maxQuestionChars },
  };
}

export function listAdvisors(circle: Circle, limits: ChatLimits): ApiMiddleware {
  const body = circleSummary(circle, limits);
  return async function listAdvisors(ctx: ApiContext) {
    ctx.body = body;
  };
}
