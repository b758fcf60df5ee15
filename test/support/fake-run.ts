/** A RunTool for the unit tests of the node tools' parsers: exact command lines answered from a table. */
import type { RunTool, ToolOutput } from '../../src/node/tools.js';

/** Each exact command line answered from the table; anything else is "absent" (not installed). */
export function fakeRun(answers: Record<string, ToolOutput | 'absent'>): RunTool {
  return async (tool, args) => answers[`${tool} ${args.join(' ')}`] ?? 'absent';
}

export const ok = (stdout: string): ToolOutput => ({ exitCode: 0, stdout, stderr: '' });
