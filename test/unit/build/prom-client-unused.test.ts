import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const load = createRequire(__filename);
const stub = load(join(__dirname, '..', '..', '..', 'scripts', 'lib', 'prom-client-unused.cjs')) as {
  Pushgateway: new () => unknown;
  otel: Record<string, unknown>;
};

describe('prom-client stand-ins in the bundle (scripts/build.mjs promClientUnused)', () => {
  it('fail loudly when something starts using them', () => {
    expect(() => new stub.Pushgateway()).toThrow(/Pushgateway is not part of the attune-agent bundle/);
    expect(() => stub.otel.trace).toThrow(/@opentelemetry\/api \(trace\).*exemplars/);
  });
});
