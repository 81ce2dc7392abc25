/**
 * Process-level state the composition root wires in (issue 17): the completion journal's
 * directory and the OOM score of action processes, from the agent's environment.
 */
import { join } from 'node:path';
import type { Config } from '../config/types';
import { toError } from '../errors';
import type { Logger } from '../log';
import { DEFAULT_CHILD_OOM_SCORE_ADJ } from '../process/oom';
import { CompletionJournal } from '../worker/completion-journal';

/** ATTUNE_AGENT_CHILD_OOM_SCORE_ADJ, default 1000 (the maximum). */
export function childOomScore(env: Readonly<Record<string, string | undefined>>): number {
  const wanted = Number.parseInt(env.ATTUNE_AGENT_CHILD_OOM_SCORE_ADJ ?? '', 10);
  return Number.isInteger(wanted) ? wanted : DEFAULT_CHILD_OOM_SCORE_ADJ;
}

/**
 * The completion journal of this worker (issue 17): `ATTUNE_AGENT_STATE_DIR`, default
 * `<artifacts_dir>/.attune-agent` — a volume that survives container restarts in the chart and
 * compose. Without a writable directory the agent runs on, with the old at-most-once window.
 */
export async function openCompletionJournal(env: Readonly<Record<string, string | undefined>>, config: Config, workerId: number, log: Logger): Promise<CompletionJournal | null> {
  const stateDir = env.ATTUNE_AGENT_STATE_DIR || join(config.artifactsDir, '.attune-agent');
  const dir = join(stateDir, `worker-${workerId}`, 'pending-completions');
  try {
    return await CompletionJournal.open(dir);
  } catch (e) {
    log.warn({ err: toError(e), dir }, 'cannot create the completion journal (set ATTUNE_AGENT_STATE_DIR to a writable volume); a completion may be lost if the agent is killed');
    return null;
  }
}
