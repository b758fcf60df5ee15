import { CniError, Code } from '../cni/errors.js';
import type { Context } from './context.js';
import { lockVf, removeDeadLocks } from './lock.js';
import { describeKey, sameAttachment, type Attachment } from './state.js';

/**
 * GC (CNI 1.1.0): forget the attachments of this network that the runtime no longer lists,
 * and their representor ports on br-int; never touch a listed one. Keeps going past a
 * failure and reports them all at the end.
 */
export async function cmdGc(ctx: Context): Promise<void> {
  const valid = ctx.conf.validAttachments;
  if (!valid) {
    ctx.log.info('GC without a list of valid attachments: nothing is removed');
    return;
  }
  const listed = new Set(valid.map((a) => `${a.containerId}/${a.ifname}`));
  const { attachments, unreadable, skipped } = await ctx.state.all();
  for (const why of skipped) ctx.log.warn(`skipped: ${why}`);
  const failures = unreadable.map((u) => `${u.pci}: ${u.error.message}`);
  const stale = attachments.filter((a) => a.network === ctx.conf.name && !listed.has(`${a.containerId}/${a.ifname}`));
  for (const a of stale) {
    try {
      await collect(ctx, a);
    } catch (err) {
      failures.push(`${describeKey(a)} (VF ${a.deviceID}): ${(err as Error).message}`);
    }
  }
  failures.push(...(await removeDeadLocks(ctx.state.lockDir)));
  ctx.log.info('GC done', { removed: stale.length - failures.length, kept: attachments.length - stale.length });
  if (failures.length > 0) {
    throw new CniError(Code.IOFailure, `GC could not collect ${failures.length} item(s)`, failures.join('; '));
  }
}

async function collect(ctx: Context, a: Attachment): Promise<void> {
  const lock = await lockVf(ctx.state.lockDir, a.deviceID, Math.min(ctx.conf.lockTimeoutMs, 5_000));
  try {
    // The VF may have gone to a new pod since the listing: collect only what is still A's.
    const now = await ctx.state.get(a.deviceID);
    if (!now || !sameAttachment(now, a)) return;
    const port = a.representor.host;
    if (port && (await ctx.node.ovsdb.deletePort('br-int', port)) === 'deleted') ctx.log.info(`GC removed stale port ${port} from br-int`);
    await ctx.state.remove(a.deviceID);
    ctx.log.info(`GC forgot ${describeKey(a)} on VF ${a.deviceID}`);
  } finally {
    await lock.release();
  }
}
