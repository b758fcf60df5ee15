import * as z from 'zod/mini';
import { garbage, parseToolJson, type Answer, type RunTool } from './tools.js';

export type HwTcOffload = 'on' | 'off' | 'unsupported';

const Feature = z.object({ active: z.boolean(), fixed: z.nullable(z.boolean()), requested: z.nullable(z.boolean()) });
// [ {"ifname":"p0", …, "hw-tc-offload":{"active":true,"fixed":false,"requested":true}, …} ]
const FeaturesJson = z.array(z.looseObject({ ifname: z.string() })).check(z.length(1));

/** "on" | "off" | "unsupported" from one ethtool feature entry; "unsupported" = fixed and inactive. */
export function hwTcState(feature: z.infer<typeof Feature> | undefined): HwTcOffload {
  if (!feature) return 'unsupported';
  if (feature.active) return 'on';
  return feature.fixed ? 'unsupported' : 'off';
}

// "hw-tc-offload: off [fixed]" in ethtool's text form (ethtool < 5.17 has no JSON for -k).
const TEXT_LINE = /^\s*hw-tc-offload: (on|off)( \[fixed\])?/m;

/** hw-tc-offload of a netdev from `ethtool --json -k`, or from the text form on old ethtool. */
export async function ethtoolHwTcOffload(run: RunTool, dev: string): Promise<Answer<HwTcOffload>> {
  const args = ['--json', '-k', dev];
  const out = await run('ethtool', args);
  if (out === 'absent') return { source: 'none', why: 'ethtool is not installed' };
  if (out.exitCode !== 0 && /json|bad command line/i.test(out.stderr)) return hwTcFromText(run, dev);
  if (out.exitCode !== 0) throw garbage('ethtool', args, out, 'failed');
  const doc = FeaturesJson.safeParse(parseToolJson('ethtool', args, out));
  if (!doc.success) throw garbage('ethtool', args, out, 'printed JSON of an unknown shape');
  const raw = doc.data[0]!['hw-tc-offload'];
  const feature = raw === undefined ? undefined : Feature.safeParse(raw);
  if (feature && !feature.success) throw garbage('ethtool', args, out, 'printed an hw-tc-offload entry of an unknown shape');
  return { value: hwTcState(feature?.data), source: 'ethtool' };
}

async function hwTcFromText(run: RunTool, dev: string): Promise<Answer<HwTcOffload>> {
  const args = ['-k', dev];
  const out = await run('ethtool', args);
  if (out === 'absent') return { source: 'none', why: 'ethtool is not installed' };
  if (out.exitCode !== 0 || !out.stdout.startsWith('Features for')) throw garbage('ethtool', args, out, 'failed');
  const m = TEXT_LINE.exec(out.stdout);
  const value: HwTcOffload = !m ? 'unsupported' : m[1] === 'on' ? 'on' : m[2] ? 'unsupported' : 'off';
  return { value, source: 'ethtool (text)' };
}
