/** Cancels that arrived before their dispatch (spec 02 §8.1), kept 10 minutes. */
const CANCEL_MEMORY_MS = 10 * 60_000;

export class PendingCancels {
  private readonly at = new Map<number, number>();

  remember(id: number): void {
    const now = Date.now();
    for (const [k, t] of this.at) if (now - t > CANCEL_MEMORY_MS) this.at.delete(k);
    this.at.set(id, now);
  }

  /** True (once) when a cancel for `id` arrived within the last 10 minutes. */
  take(id: number): boolean {
    const t = this.at.get(id);
    if (t === undefined) return false;
    this.at.delete(id);
    return Date.now() - t <= CANCEL_MEMORY_MS;
  }
}
