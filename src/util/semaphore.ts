/** Counting semaphore with FIFO waiters (bounded concurrency of executions, spec 02 §7). */
export class Semaphore {
  private available: number;
  private readonly waiters: (() => void)[] = [];

  constructor(readonly permits: number) {
    this.available = permits;
  }

  get inUse(): number {
    return this.permits - this.available;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  acquire(): Promise<void> {
    if (this.available > 0) {
      this.available--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.available = Math.min(this.permits, this.available + 1);
  }
}
