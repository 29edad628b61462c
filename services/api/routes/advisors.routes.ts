/** GET /advisors: who is in the circle (no personas' prompts, only their short titles). */
import type { Circle, CircleMember } from '../../shared/circle/circle.js';
import { MODES } from '../schemas/chat.schema.js';
import type { ApiContext, ApiMiddleware } from '../middleware/context.js';

export interface MemberSummary {
  id: string;
  name: string;
  modelId: string;
  /** The persona's role, e.g. "Strategist", when its prompt opens with "You are the <Title>". */
  title?: string;
}

function summaryOfMember(member: CircleMember): MemberSummary {
  const title = /^You are the ([A-Z][\w-]*)/.exec(member.persona)?.[1];
  const summary: MemberSummary = { id: member.id, name: member.name, modelId: member.modelId };
  if (title) summary.title = title;
  return summary;
}

/** The circle as a caller may see it. */
export function circleSummary(circle: Circle) {
  return {
    advisors: circle.advisors.map(summaryOfMember),
    chair: summaryOfMember(circle.chair),
    quorum: circle.quorum,
    modes: [...MODES],
  };
}

export function listAdvisors(circle: Circle): ApiMiddleware {
  const body = circleSummary(circle);
  return async function listAdvisors(ctx: ApiContext) {
    ctx.body = body;
  };
}
