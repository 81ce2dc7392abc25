import { describe, expect, it } from 'vitest';
import { basename } from 'node:path';

import { coalesce, compileSchema, defaultValues, describeErrors, exampleFiles, loadYaml, readChartFile, type Values } from './chart-helpers';

const validate = compileSchema();

function check(values: Values): { ok: boolean; message: string } {
  const ok = validate(values) as boolean;
  return { ok, message: describeErrors(validate.errors) };
}

/** values.yaml with the pools replaced by `pool`. */
function withPool(pool: Values): Values {
  return coalesce(defaultValues(), { actionWorkers: [pool] });
}

// Every per-pool key of upstream's actionWorkers (values.schema.json, workerBaseProperties).
const UPSTREAM_POOL_KEYS = ['name', 'image', 'replicas', 'runtimes', 'resources', 'podSecurityContext', 'containerSecurityContext', 'env', 'imagePullPolicy', 'logLevel', 'runtimeClassName', 'nodeSelector', 'tolerations', 'stopGracePeriod', 'maxDatabaseConnections'];

describe('values.schema.json', () => {
  it('is a draft-07 schema whose pool entries have every upstream key plus ours, closed to unknown fields', () => {
    const schema = JSON.parse(readChartFile('values.schema.json'));
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.definitions.actionWorker.additionalProperties).toBe(false);
    expect(Object.keys(schema.definitions.actionWorker.properties)).toEqual(
      expect.arrayContaining([...UPSTREAM_POOL_KEYS, 'affinity', 'podAnnotations', 'shutdownTimeout', 'probes']),
    );
    expect(schema.properties.agentWorkers.items).toEqual(schema.properties.actionWorkers.items);
  });

  it('accepts the chart defaults in values.yaml', () => {
    const { ok, message } = check(defaultValues());
    expect(message).toBe('');
    expect(ok).toBe(true);
  });

  it('has the example files, including the upstream-shaped one', () => {
    expect(exampleFiles().map((f) => basename(f))).toEqual(
      expect.arrayContaining(['custom-image.yaml', 'python-ml-gpu.yaml', 'ruby.yaml', 'object-storage.yaml', 'upstream-pools.yaml']),
    );
  });

  for (const file of exampleFiles()) {
    it(`accepts examples/${basename(file)} merged over values.yaml`, () => {
      const { ok, message } = check(coalesce(defaultValues(), loadYaml(file)));
      expect(message).toBe('');
      expect(ok).toBe(true);
    });
  }

  it('accepts upstream\'s full pool entry with every key set', () => {
    const { ok, message } = check(
      withPool({
        name: `a${'b'.repeat(61)}c`, image: 'python:3.12-slim', replicas: 2, runtimes: ['python', 'shell'],
        resources: { limits: { cpu: 2, memory: '1Gi' }, requests: { cpu: '500m' }, claims: [{ name: 'gpu', request: 'one' }] },
        env: [{ name: 'A', value: 'x' }, { name: 'B', value: 3 }, { name: 'C', value: false }, { name: 'D', valueFrom: { secretKeyRef: { name: 's', key: 'k' } } }],
        podSecurityContext: { runAsNonRoot: true, runAsUser: 2000, runAsGroup: 2000, fsGroup: 2000, fsGroupChangePolicy: 'Always', supplementalGroups: [3000], seccompProfile: { type: 'Localhost', localhostProfile: 'p.json' } },
        containerSecurityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: false, privileged: false, procMount: 'Default', capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } },
        imagePullPolicy: 'Always', logLevel: 'trace,sqlx=warn', runtimeClassName: 'gvisor', nodeSelector: { pool: 'x' },
        tolerations: [{ key: 'k', operator: 'Equal', value: 'v', effect: 'NoExecute', tolerationSeconds: 30 }],
        stopGracePeriod: 90, maxDatabaseConnections: 10,
      }),
    );
    expect(message).toBe('');
    expect(ok).toBe(true);
  });

  it('rejects negative replicas and names the field', () => {
    const { ok, message } = check(withPool({ name: 'ruby', image: 'ruby:3.3', replicas: -1 }));
    expect(ok).toBe(false);
    expect(message).toContain('/actionWorkers/0/replicas: must be >= 0');
  });

  it('rejects an unknown field in a worker entry and names it', () => {
    const { ok, message } = check(withPool({ name: 'ruby', image: 'ruby:3.3', runtime: ['ruby'] }));
    expect(ok).toBe(false);
    expect(message).toContain('/actionWorkers/0: unknown field "runtime"');
  });

  it('rejects a wrongly typed field and names it', () => {
    const { ok, message } = check(withPool({ name: 'ruby', image: 'ruby:3.3', replicas: 'two', runtimes: 'ruby' }));
    expect(ok).toBe(false);
    expect(message).toContain('/actionWorkers/0/replicas: must be integer');
    expect(message).toContain('/actionWorkers/0/runtimes: must be array');
  });

  it('rejects a worker entry without image, and a name longer than 63 characters', () => {
    expect(check(withPool({ name: 'ruby' })).message).toContain("must have required property 'image'");
    expect(check(withPool({ name: 'x'.repeat(64), image: 'ruby:3.3' })).message).toContain('/actionWorkers/0/name: must NOT have more than 63 characters');
  });

  it('rejects runtimes that would break the comma-joined ATTUNE_WORKER_RUNTIMES', () => {
    const { ok, message } = check(withPool({ name: 'ruby', image: 'ruby:3.3', runtimes: ['ruby,shell'] }));
    expect(ok).toBe(false);
    expect(message).toContain('/actionWorkers/0/runtimes/0');
  });

  it('rejects maxDatabaseConnections below upstream\'s minimum of 5', () => {
    expect(check(withPool({ name: 'ruby', image: 'ruby:3.3', maxDatabaseConnections: 4 })).message).toContain('/actionWorkers/0/maxDatabaseConnections: must be >= 5');
  });

  it('rejects security contexts outside the restricted profile, as upstream', () => {
    const { message } = check(
      withPool({
        name: 'ruby', image: 'ruby:3.3',
        podSecurityContext: { runAsNonRoot: false, runAsUser: 0 },
        containerSecurityContext: { privileged: true, allowPrivilegeEscalation: true, capabilities: { drop: ['NET_RAW'], add: ['SYS_ADMIN'] } },
      }),
    );
    for (const field of ['podSecurityContext/runAsNonRoot', 'podSecurityContext/runAsUser', 'containerSecurityContext/privileged', 'containerSecurityContext/allowPrivilegeEscalation', 'containerSecurityContext/capabilities/drop', 'containerSecurityContext/capabilities/add/0']) {
      expect(message).toContain(`/actionWorkers/0/${field}`);
    }
  });

  it('rejects an env entry with both value and valueFrom, and an env name Kubernetes would refuse', () => {
    const { message } = check(withPool({ name: 'ruby', image: 'ruby:3.3', env: [{ name: 'A', value: 'x', valueFrom: { fieldRef: { fieldPath: 'x' } } }, { name: '1BAD', value: 'x' }] }));
    expect(message).toContain('/actionWorkers/0/env/0: must NOT be valid');
    expect(message).toContain('/actionWorkers/0/env/1/name: must match pattern');
  });

  it('rejects an unknown storage.mode', () => {
    expect(check(coalesce(defaultValues(), { storage: { mode: 'nfs' } })).message).toContain('/storage/mode: must be equal to one of the allowed values');
  });

  it('rejects secrets placed in the ConfigMap data', () => {
    const values = coalesce(defaultValues(), {
      config: { data: { database: { url: 'postgresql://attune:pw@db/attune' }, message_queue: { url: 'amqp://u:pw@mq' }, security: { jwt_secret: 'x' } } },
    });
    const { ok, message } = check(values);
    expect(ok).toBe(false);
    expect(message).toContain('/config/data/database/url: not allowed here');
    expect(message).toContain('/config/data/message_queue/url: not allowed here');
    expect(message).toContain('/config/data/security: not allowed here');
  });

  it('rejects an unknown top-level key (typo protection)', () => {
    const { ok, message } = check(coalesce(defaultValues(), { actionWorker: [] }));
    expect(ok).toBe(false);
    expect(message).toContain('/: unknown field "actionWorker"');
  });
});
