import { runCli } from './cli';

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
