import type { ApiContext } from '../middleware/context.js';

/** GET /healthz: the process is up and serving (no auth, no dependencies touched). */
export async function healthz(ctx: ApiContext): Promise<void> {
  ctx.body = { status: 'ok' };
}
