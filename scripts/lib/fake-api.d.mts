// Types for scripts/lib/fake-api.mjs (plain Node ESM); the typed surface is test/support/fake-api.ts.
export declare class FakeAttuneApi {
  constructor(opts: { jwtSecret: string; databaseUrl?: string; artifactsDir?: string; schema?: string });
  readonly url: string;
  start(port?: number, host?: string): Promise<this>;
  close(): Promise<void>;
}
