/**
 * The engine's side of the output sinks while they may still be being set up (issue 18): the
 * adapter sends the log-stream rows' statement, the action is spawned while PostgreSQL runs it,
 * and the sinks arrive a round trip later. The pipes are read from the spawn on — Node resumes
 * (and so drops) the stdio of a child without a reader when the child exits — and the kept
 * chunks (at most the streams' limits) wait here, in order, until the sinks exist.
 */
import type { OutputSink, OutputSinks } from './log-sink';
import type { StreamName } from './output';

interface Held {
  name: StreamName;
  chunk: Buffer;
  isNotice: boolean;
}

function deliver(sinks: OutputSinks, name: StreamName, chunk: Buffer, isNotice: boolean): void {
  const sink: OutputSink | null | undefined = sinks[name];
  if (isNotice && sink?.writeNotice) sink.writeNotice(chunk);
  else sink?.write(chunk);
}

export class SinkRelay {
  private current: OutputSinks | null = null;
  private held: Held[] = [];
  /** Setting the sinks up threw (an adapter bug): the run goes on, its logs count as incomplete. */
  setupFailed: Error | null = null;
  /** The sinks, once they exist; never rejects. */
  readonly ready: Promise<OutputSinks>;

  constructor(given: OutputSinks | Promise<OutputSinks | null> | null | undefined) {
    // The same test as execute.ts makes: a promise is still being set up.
    if (!(given instanceof Promise)) {
      this.attach(given ?? {});
      this.ready = Promise.resolve(this.current as OutputSinks);
      return;
    }
    this.ready = given.then(
      (s) => this.attach(s ?? {}),
      (e: unknown) => {
        this.setupFailed = e instanceof Error ? e : new Error(String(e));
        return this.attach({});
      },
    );
  }

  /** A kept chunk of `name`: to its sink, or held until the sinks exist. */
  write(name: StreamName, chunk: Buffer, isNotice: boolean): void {
    if (this.current === null) this.held.push({ name, chunk, isNotice });
    else deliver(this.current, name, chunk, isNotice);
  }

  private attach(sinks: OutputSinks): OutputSinks {
    this.current = sinks;
    const held = this.held;
    this.held = [];
    for (const h of held) deliver(sinks, h.name, h.chunk, h.isNotice);
    return sinks;
  }
}
