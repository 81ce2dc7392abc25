/**
 * What the agent can and cannot do in the container it was started in — typically a Pod Security
 * "restricted" pod (spec 07 §8.2): uid/gid 1000, no capabilities, a read-only root filesystem,
 * writable volumes only. Checked once at start-up so the operator reads it in the first log lines
 * instead of in a failed execution later. Decision logic only: the caller passes the process
 * facts and a writability probe (STYLE.md: no process-wide effects here).
 */
import { constants } from 'node:fs';

export interface SandboxFacts {
  /** process.getuid?.(), undefined where POSIX ids do not exist. */
  readonly uid: number | undefined;
  readonly gid: number | undefined;
  /** Directory for parameter files and inline scripts (os.tmpdir()). */
  readonly tmpDir: string;
  /** HOME of the agent (actions inherit it; pip/npm caches land there). */
  readonly home: string | undefined;
  readonly runtimeEnvsDir: string;
  readonly packsBaseDir: string;
  readonly packsTransport: string;
}

export interface SandboxFinding {
  /** Stable code for tests and log filters. */
  readonly code: 'NON_ROOT' | 'TMP_NOT_WRITABLE' | 'HOME_NOT_WRITABLE' | 'RUNTIME_ENVS_NOT_WRITABLE' | 'PACKS_NOT_WRITABLE';
  readonly level: 'info' | 'warn';
  readonly message: string;
  readonly path?: string;
}

/** True when `dir` exists and this process may create files in it. */
export type WritableProbe = (dir: string) => boolean;

/** Findings in log order; empty when the agent runs as root with every directory writable. */
export function checkSandbox(facts: SandboxFacts, isWritable: WritableProbe): SandboxFinding[] {
  const out: SandboxFinding[] = [];
  if (facts.uid !== undefined && facts.uid !== 0) {
    out.push({
      code: 'NON_ROOT',
      level: 'info',
      message:
        `running as uid ${facts.uid} gid ${facts.gid ?? '?'} (not root): actions run as this user; ` +
        'worker.run_as_user is unavailable (it needs root) and actions cannot install system packages',
    });
  }
  if (!isWritable(facts.tmpDir)) {
    out.push({
      code: 'TMP_NOT_WRITABLE',
      level: 'warn',
      path: facts.tmpDir,
      message:
        `temp directory ${facts.tmpDir} is not writable (read-only root filesystem?): executions that need a parameter file ` +
        'or an inline script will fail. Mount a writable emptyDir at /tmp or set TMPDIR to a writable volume',
    });
  }
  if (facts.home !== undefined && facts.home !== '' && !isWritable(facts.home)) {
    out.push({
      code: 'HOME_NOT_WRITABLE',
      level: 'warn',
      path: facts.home,
      message:
        `HOME ${facts.home} is not writable for this user: actions that write caches or config under ~ (pip, npm, git) ` +
        'may fail. Set HOME to a writable directory (the Helm chart uses /tmp)',
    });
  }
  if (!isWritable(facts.runtimeEnvsDir)) {
    out.push({
      code: 'RUNTIME_ENVS_NOT_WRITABLE',
      level: 'warn',
      path: facts.runtimeEnvsDir,
      message:
        `runtime_envs_dir ${facts.runtimeEnvsDir} is missing or not writable: packs that need a runtime environment ` +
        '(Python venv, node_modules) cannot run here. Mount a volume writable for this user (fsGroup) there',
    });
  }
  if (facts.packsTransport === 'api' && !isWritable(facts.packsBaseDir)) {
    out.push({
      code: 'PACKS_NOT_WRITABLE',
      level: 'warn',
      path: facts.packsBaseDir,
      message:
        `packs.transport is api but packs_base_dir ${facts.packsBaseDir} is not writable: pack releases cannot be ` +
        'downloaded into the local cache. Mount a writable volume there',
    });
  }
  return out;
}

/** W_OK|X_OK on the directory, as the kernel would decide for this process. */
export const ACCESS_WRITE_DIR = constants.W_OK | constants.X_OK;
