import type { Context } from './context.js';
import type { PreflightReport } from './preflight.js';

/**
 * Refuses with the first failed prerequisite (offload.enforce, the default), or logs every
 * failure as a warning and lets the pod go on in software. Returns the warnings to report.
 */
export function enforce(ctx: Context, report: PreflightReport): string[] {
  const { facts, failures, warnings } = report;
  ctx.log.info('offload checks', {
    pf: facts.vf.pf,
    vfIndex: facts.vf.index,
    eswitch: facts.eswitch,
    hwTcOffload: facts.hwTc,
    representorSource: facts.representor?.source,
    failures: failures.map((f) => f.code),
  });
  for (const w of warnings) ctx.log.warn(w);
  const first = failures[0];
  if (first && ctx.conf.offload.enforce) {
    const more = failures.slice(1).map((f) => `also: ${f.message}`);
    ctx.log.error(first.message, { code: first.code, details: first.details });
    if (more.length > 0) Object.assign(first, { details: [first.details, ...more].join('; ') });
    throw first;
  }
  const soft = failures.map((f) => `offload.enforce is false, going on without offload: ${f.message} (${f.details})`);
  for (const s of soft) ctx.log.warn(s);
  return [...warnings, ...soft];
}
