/**
 * The V8 option the single executable is built with (sea-config.json `execArgv`), for the plain
 * bundle too (issue 18). Node ≥ 22 lets the young generation grow to 64 MiB (two 32 MiB
 * semi-spaces) where `--max-semi-space-size=8` keeps it at 16 MiB. Run as `node
 * attune-agent.cjs` on Node 24 without it, the bench's soak of 20 000 executions took the agent
 * from 124 to 240 MiB RSS and ran 116 executions/s; with it, 103 → 112 MiB and 175/s (every
 * fork of an action copies the page tables of what the agent has resident). V8 reads the
 * option only when the heap is set up, so it must be on the command line: the agent re-executes
 * itself with it where Node has `process.execve` (same pid, nothing in between).
 *
 * Pure: facts in, arguments out (pid1.ts plans with it, wiring/pid1-duties.ts executes).
 */

/** sea-config.json `execArgv` (kept equal by test/unit/process/v8-options.test.ts). */
export const YOUNG_GENERATION_OPTION = '--max-semi-space-size=8';
const OPTION_NAME = '--max-semi-space-size';

export interface V8OptionFacts {
  readonly isSea: boolean;
  readonly execArgv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** `--max-semi-space-size[=N]`, also spelt with underscores (V8 takes both). */
function mentions(args: readonly string[]): boolean {
  return args.some((a) => {
    const normal = a.replace(/_/g, '-');
    return normal === OPTION_NAME || normal.startsWith(`${OPTION_NAME}=`);
  });
}

/**
 * The options to add to a plain-bundle command line: none for the single executable (compiled
 * in) or when the operator chose a semi-space size (on the command line or in NODE_OPTIONS).
 */
export function missingV8Options(f: V8OptionFacts): string[] {
  if (f.isSea) return [];
  if (mentions(f.execArgv)) return [];
  if (mentions((f.env.NODE_OPTIONS ?? '').split(/\s+/).filter(Boolean))) return [];
  return [YOUNG_GENERATION_OPTION];
}
