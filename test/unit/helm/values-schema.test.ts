import { describe, expect, it } from 'vitest';
import { basename } from 'node:path';

import {
  coalesce,
  compileSchema,
  defaultValues,
  describeErrors,
  exampleFiles,
  loadYaml,
  readChartFile,
  type Values,
} from './chart-helpers';

const validate = compileSchema();

function check(values: Values): { ok: boolean; message: string } {
  const ok = validate(values) as boolean;
  return { ok, message: describeErrors(validate.errors) };
}

/** values.yaml with the first pool replaced by `pool`. */
function withPool(pool: Values): Values {
  return coalesce(defaultValues(), { agentWorkers: [pool] });
}

describe('values.schema.json', () => {
  it('is a draft-07 schema that closes worker entries to unknown fields', () => {
    const schema = JSON.parse(readChartFile('values.schema.json'));
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.definitions.agentWorker.additionalProperties).toBe(false);
    expect(Object.keys(schema.definitions.agentWorker.properties)).toEqual(
      expect.arrayContaining([
        'name',
        'image',
        'replicas',
        'runtimes',
        'resources',
        'env',
        'imagePullPolicy',
        'logLevel',
        'runtimeClassName',
        'nodeSelector',
        'tolerations',
        'stopGracePeriod',
      ]),
    );
  });

  it('accepts the chart defaults in values.yaml', () => {
    const { ok, message } = check(defaultValues());
    expect(message).toBe('');
    expect(ok).toBe(true);
  });

  it('has the three required example files', () => {
    expect(exampleFiles().map((f) => basename(f))).toEqual(
      expect.arrayContaining(['custom-image.yaml', 'python-ml-gpu.yaml', 'ruby.yaml']),
    );
  });

  for (const file of exampleFiles()) {
    it(`accepts examples/${basename(file)} merged over values.yaml`, () => {
      const { ok, message } = check(coalesce(defaultValues(), loadYaml(file)));
      expect(message).toBe('');
      expect(ok).toBe(true);
    });
  }

  it('rejects negative replicas and names the field', () => {
    const { ok, message } = check(withPool({ name: 'ruby', image: 'ruby:3.3', replicas: -1 }));
    expect(ok).toBe(false);
    expect(message).toContain('/agentWorkers/0/replicas: must be >= 0');
  });

  it('rejects an unknown field in a worker entry and names it', () => {
    const { ok, message } = check(withPool({ name: 'ruby', image: 'ruby:3.3', runtime: ['ruby'] }));
    expect(ok).toBe(false);
    expect(message).toContain('/agentWorkers/0: unknown field "runtime"');
  });

  it('rejects a wrongly typed field and names it', () => {
    const { ok, message } = check(withPool({ name: 'ruby', image: 'ruby:3.3', replicas: 'two', runtimes: 'ruby' }));
    expect(ok).toBe(false);
    expect(message).toContain('/agentWorkers/0/replicas: must be integer');
    expect(message).toContain('/agentWorkers/0/runtimes: must be array');
  });

  it('rejects a worker entry without image', () => {
    const { ok, message } = check(withPool({ name: 'ruby' }));
    expect(ok).toBe(false);
    expect(message).toContain("must have required property 'image'");
  });

  it('rejects runtimes that would break the comma-joined ATTUNE_WORKER_RUNTIMES', () => {
    const { ok, message } = check(withPool({ name: 'ruby', image: 'ruby:3.3', runtimes: ['ruby,shell'] }));
    expect(ok).toBe(false);
    expect(message).toContain('/agentWorkers/0/runtimes/0');
  });

  it('rejects non-string env values, which Kubernetes would refuse', () => {
    const { ok, message } = check(withPool({ name: 'ruby', image: 'ruby:3.3', env: [{ name: 'WORKERS', value: 4 }] }));
    expect(ok).toBe(false);
    expect(message).toContain('/agentWorkers/0/env/0/value: must be string');
  });

  it('rejects an unknown log level', () => {
    const { ok, message } = check(withPool({ name: 'ruby', image: 'ruby:3.3', logLevel: 'verbose' }));
    expect(ok).toBe(false);
    expect(message).toContain('/agentWorkers/0/logLevel: must be equal to one of the allowed values');
  });

  it('rejects secrets placed in the ConfigMap data', () => {
    const values = coalesce(defaultValues(), {
      config: {
        data: {
          database: { url: 'postgresql://attune:pw@db/attune' },
          message_queue: { url: 'amqp://u:pw@mq' },
          security: { jwt_secret: 'x' },
        },
      },
    });
    const { ok, message } = check(values);
    expect(ok).toBe(false);
    expect(message).toContain('/config/data/database/url: not allowed here');
    expect(message).toContain('/config/data/message_queue/url: not allowed here');
    expect(message).toContain('/config/data/security: not allowed here');
  });

  it('rejects an unknown top-level key (typo protection)', () => {
    const { ok, message } = check(coalesce(defaultValues(), { agentWorker: [] }));
    expect(ok).toBe(false);
    expect(message).toContain('/: unknown field "agentWorker"');
  });
});
