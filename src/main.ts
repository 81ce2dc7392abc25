import { runCli } from './cli';

// A reader that went away (`attune-agent detect | head -1`) is not an agent fault: writes to a
// closed stdout/stderr pipe are dropped instead of crashing on an unhandled 'error' event (a
// running agent keeps serving; the command finishes and exits as usual).
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
  });
}

// The only place that ends the process (STYLE.md). Flush stdout/stderr first: when they are pipes,
// writes are asynchronous and process.exit would cut the last log lines.
runCli({ argv: process.argv, env: process.env, cwd: process.cwd(), stdout: process.stdout, stderr: process.stderr }).then(
  (code) => exitAfterFlush(code),
  (e: unknown) => {
    process.stderr.write(`Error: ${e instanceof Error ? e.message : String(e)}\n`);
    exitAfterFlush(1);
  },
);

function exitAfterFlush(code: number): void {
  process.stdout.write('', () => {
    process.stderr.write('', () => process.exit(code));
  });
}
