import { CniError } from '../cni/errors.js';
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
    bond: facts.bond,
    ovsHwOffload: facts.ovsHwOffload,
    failures: failures.map((f) => f.code),
  });
  for (const w of warnings) ctx.log.warn(w);
  const [first, ...rest] = failures;
  if (first && ctx.conf.offload.enforce) {
    // The first failure is the cause; the others ride along in details (logged by the caller).
    throw new CniError(first.code, first.message, [first.details, ...rest.map((f) => `also: ${f.message}`)].join('; '));
  }
  const soft = failures.map((f) => `offload.enforce is false, going on without offload: ${f.message} (${f.details})`);
  for (const s of soft) ctx.log.warn(s);
  return [...warnings, ...soft];
}
