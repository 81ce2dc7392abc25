/**
 * Signal the whole process group of a child spawned with `detached: true` (it leads its own
 * group), so grandchildren go too; fall back to the child alone if the group signal fails.
 */
export function killProcessGroup(child: { pid?: number | undefined; kill(signal?: NodeJS.Signals): boolean }, signal: NodeJS.Signals = 'SIGKILL'): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}
