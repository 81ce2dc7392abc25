import { describe, expect, it } from 'vitest';
import type { WorkerConfig } from '../../../src/config/types';
import {
  buildCapabilities,
  buildDetectedRuntimeVersions,
  resolveWorkerIdentity,
  runtimeTier,
  validateLabels,
  validateTaints,
} from '../../../src/worker/capabilities';

type CapConfig = Pick<WorkerConfig, 'maxConcurrentTasks' | 'labels' | 'taints' | 'capabilities'>;

function cfg(overrides: Partial<CapConfig> = {}): CapConfig {
  return { maxConcurrentTasks: 10, labels: {}, taints: [], capabilities: null, ...overrides };
}

const DETECTED = [
  { name: 'shell', path: '/bin/bash', version: '5.2.15' },
  { name: 'python', path: '/usr/local/bin/python3', version: '3.12.7' },
  { name: 'perl', path: '/usr/bin/perl', version: '5.36.0' },
];

describe('buildCapabilities', () => {
  it('builds the agent-mode example of spec 01 §4.3 key by key', () => {
    const { capabilities, warnings, tier } = buildCapabilities({
      workerConfig: cfg(),
      env: {
        ATTUNE_AGENT_MODE: 'true',
        ATTUNE_AGENT_BINARY_NAME: 'attune-agent',
        ATTUNE_AGENT_BINARY_VERSION: '0.6.0',
        ATTUNE_WORKER_RUNTIMES: 'shell,python,perl',
      },
      detected: DETECTED,
      agentVersion: '0.6.0',
    });
    expect(tier).toBe('env');
    expect(warnings).toEqual([]);
    expect(capabilities).toEqual({
      max_concurrent_executions: 10,
      worker_version: '0.6.0',
      agent_mode: true,
      agent_binary_name: 'attune-agent',
      agent_binary_version: '0.6.0',
      runtimes: ['shell', 'python', 'perl', 'native'],
      detected_interpreters: DETECTED,
      runtime_versions: { perl: ['5.36.0'], python: ['3.12.7'], shell: ['5.2.15'] },
    });
    expect(Object.keys(capabilities)).toEqual([
      'max_concurrent_executions',
      'worker_version',
      'agent_mode',
      'agent_binary_name',
      'agent_binary_version',
      'runtimes',
      'detected_interpreters',
      'runtime_versions',
    ]);
  });

  it('tier 1: takes ATTUNE_WORKER_RUNTIMES tokens as given (lower-cased, trimmed), even undetected ones', () => {
    const { capabilities } = buildCapabilities({
      workerConfig: cfg({ capabilities: { runtimes: ['ruby'] } }),
      env: { ATTUNE_WORKER_RUNTIMES: ' NodeJS , python3,, ' },
      agentVersion: '1.0.0',
      dbRuntimeNames: ['go'],
    });
    expect(capabilities.runtimes).toEqual(['nodejs', 'python3', 'native']);
  });

  it('tier 1 applies to an empty variable: only native is advertised', () => {
    const built = buildCapabilities({ workerConfig: cfg(), env: { ATTUNE_WORKER_RUNTIMES: '' }, agentVersion: '1' });
    expect(built.tier).toBe('env');
    expect(built.capabilities.runtimes).toEqual(['native']);
  });

  it('tier 2: uses worker.capabilities.runtimes lower-cased when the variable is unset', () => {
    const built = buildCapabilities({
      workerConfig: cfg({ capabilities: { runtimes: ['Python', 7, 'Shell'] } }),
      env: {},
      agentVersion: '1',
      dbRuntimeNames: ['go'],
    });
    expect(built.tier).toBe('config');
    expect(built.capabilities.runtimes).toEqual(['python', 'shell', 'native']);
  });

  it('tier 3: falls back to the DB-detected runtime names when neither env nor config lists runtimes', () => {
    expect(runtimeTier({ capabilities: { runtimes: [] } }, {})).toBe('database');
    const built = buildCapabilities({
      workerConfig: cfg({ capabilities: { runtimes: [] } }),
      env: {},
      agentVersion: '1',
      dbRuntimeNames: ['Node.js', 'shell', 'native'],
    });
    expect(built.tier).toBe('database');
    // native already present (not duplicated)
    expect(built.capabilities.runtimes).toEqual(['node.js', 'shell', 'native']);
  });

  it('does not append native when an alias of it (builtin/standalone) is listed', () => {
    const built = buildCapabilities({ workerConfig: cfg(), env: { ATTUNE_WORKER_RUNTIMES: 'shell,builtin' }, agentVersion: '1' });
    expect(built.capabilities.runtimes).toEqual(['shell', 'builtin']);
  });

  it('copies every non-runtimes key of worker.capabilities, overriding constructor keys', () => {
    const built = buildCapabilities({
      workerConfig: cfg({ maxConcurrentTasks: 4, capabilities: { max_concurrent_executions: 2, gpu: { count: 1 }, runtimes: ['x'] } }),
      env: { ATTUNE_WORKER_RUNTIMES: 'shell' },
      agentVersion: '1',
    });
    expect(built.capabilities.max_concurrent_executions).toBe(2);
    expect(built.capabilities.gpu).toEqual({ count: 1 });
    expect(built.capabilities.runtimes).toEqual(['shell', 'native']);
  });

  it('writes agent flags only from non-blank env values and ATTUNE_AGENT_MODE 1/true', () => {
    const off = buildCapabilities({
      workerConfig: cfg(),
      env: { ATTUNE_AGENT_MODE: 'yes', ATTUNE_AGENT_BINARY_NAME: '  ', ATTUNE_AGENT_BINARY_VERSION: '' },
      agentVersion: '1',
    });
    expect(off.capabilities).not.toHaveProperty('agent_mode');
    expect(off.capabilities).not.toHaveProperty('agent_binary_name');
    expect(off.capabilities).not.toHaveProperty('agent_binary_version');
    const on = buildCapabilities({ workerConfig: cfg(), env: { ATTUNE_AGENT_MODE: ' 1 ' }, agentVersion: '1' });
    expect(on.capabilities.agent_mode).toBe(true);
  });

  it('omits detected_interpreters and runtime_versions outside agent start-up mode', () => {
    const built = buildCapabilities({ workerConfig: cfg(), env: { ATTUNE_WORKER_RUNTIMES: 'shell' }, agentVersion: '1', detected: null });
    expect(built.capabilities).not.toHaveProperty('detected_interpreters');
    expect(built.capabilities).not.toHaveProperty('runtime_versions');
  });

  it('advertises valid labels and taints, omitting a taint value that is absent', () => {
    const built = buildCapabilities({
      workerConfig: cfg({
        labels: { zone: 'eu-1', gpu: 'true' },
        taints: [
          { key: 'dedicated', value: 'ml', effect: 'no_schedule' },
          { key: 'spot', effect: 'prefer_no_schedule' },
        ],
      }),
      env: {},
      agentVersion: '1',
    });
    expect(built.warnings).toEqual([]);
    expect(built.capabilities.labels).toEqual({ zone: 'eu-1', gpu: 'true' });
    expect(built.capabilities.taints).toEqual([
      { key: 'dedicated', value: 'ml', effect: 'no_schedule' },
      { key: 'spot', effect: 'prefer_no_schedule' },
    ]);
  });

  it('omits empty labels/taints without warnings', () => {
    const built = buildCapabilities({ workerConfig: cfg(), env: {}, agentVersion: '1' });
    expect(built.capabilities).not.toHaveProperty('labels');
    expect(built.capabilities).not.toHaveProperty('taints');
    expect(built.warnings).toEqual([]);
  });

  it('warns and omits invalid labels or taints instead of failing', () => {
    const built = buildCapabilities({
      workerConfig: cfg({
        labels: { zone: '   ' },
        taints: [{ key: '', effect: 'no_schedule' }],
      }),
      env: {},
      agentVersion: '1',
    });
    expect(built.capabilities).not.toHaveProperty('labels');
    expect(built.capabilities).not.toHaveProperty('taints');
    expect(built.warnings).toHaveLength(2);
    expect(built.warnings[0]).toContain("label 'zone'");
    expect(built.warnings[1]).toContain('empty key');
  });
});

describe('label and taint validation', () => {
  it('rejects empty label keys and blank values', () => {
    expect(validateLabels({ '': 'x' })).toMatch(/keys must not be empty/);
    expect(validateLabels({ a: '' })).toMatch(/non-blank/);
    expect(validateLabels({ a: 'b' })).toBeNull();
  });

  it('rejects blank taint values and unknown effects', () => {
    expect(validateTaints([{ key: 'k', value: ' ', effect: 'no_schedule' }])).toMatch(/blank value/);
    expect(validateTaints([{ key: 'k', effect: 'no_execute' as never }])).toMatch(/no_execute/);
    expect(validateTaints([{ key: 'k', effect: 'prefer_no_schedule' }])).toBeNull();
  });
});

describe('buildDetectedRuntimeVersions', () => {
  it('normalises names, skips blank versions, sorts ascending as strings and de-duplicates', () => {
    expect(
      buildDetectedRuntimeVersions([
        { name: 'nodejs', path: '/a', version: '20.19.0' },
        { name: 'python', path: '/b', version: '3.12.13' },
        { name: 'python3', path: '/c', version: '3.10.2' },
        { name: 'python', path: '/d', version: '3.12.13' },
        { name: 'ruby', path: '/e', version: null },
        { name: 'perl', path: '/f', version: '  ' },
      ]),
    ).toEqual({ node: ['20.19.0'], python: ['3.10.2', '3.12.13'] });
  });
});

describe('resolveWorkerIdentity', () => {
  const base = { name: null, workerType: null, runtimeId: null, host: null, port: null };

  it('prefers --name, then worker.name, then ATTUNE_WORKER_NAME, then worker-<hostname>', () => {
    const env = { ATTUNE_WORKER_NAME: ' from-env ' };
    expect(resolveWorkerIdentity({ workerConfig: { ...base, name: 'cfg' }, env, hostname: 'h', cliName: 'cli' }).identity.name).toBe('cli');
    expect(resolveWorkerIdentity({ workerConfig: { ...base, name: 'cfg' }, env, hostname: 'h' }).identity.name).toBe('cfg');
    expect(resolveWorkerIdentity({ workerConfig: base, env, hostname: 'h' }).identity.name).toBe('from-env');
    expect(resolveWorkerIdentity({ workerConfig: base, env: { ATTUNE_WORKER_NAME: '  ' }, hostname: 'box1' }).identity.name).toBe('worker-box1');
    expect(resolveWorkerIdentity({ workerConfig: base, env: {}, hostname: null }).identity.name).toBe('worker-unknown');
  });

  it('takes worker_type from config, else ATTUNE_WORKER_TYPE (case-insensitive), else local', () => {
    expect(resolveWorkerIdentity({ workerConfig: { ...base, workerType: 'remote' }, env: { ATTUNE_WORKER_TYPE: 'container' }, hostname: 'h' }).identity.workerType).toBe('remote');
    expect(resolveWorkerIdentity({ workerConfig: base, env: { ATTUNE_WORKER_TYPE: ' Container ' }, hostname: 'h' }).identity.workerType).toBe('container');
    expect(resolveWorkerIdentity({ workerConfig: base, env: {}, hostname: 'h' }).identity.workerType).toBe('local');
  });

  it('warns about and ignores an invalid ATTUNE_WORKER_TYPE', () => {
    const r = resolveWorkerIdentity({ workerConfig: base, env: { ATTUNE_WORKER_TYPE: 'k8s' }, hostname: 'h' });
    expect(r.identity.workerType).toBe('local');
    expect(r.warnings[0]).toContain("ATTUNE_WORKER_TYPE='k8s'");
  });

  it('fills role action, runtime/port from config, host from config else hostname else null', () => {
    const r = resolveWorkerIdentity({ workerConfig: { ...base, runtimeId: 7, port: 9000 }, env: {}, hostname: 'node-a' });
    expect(r.identity).toEqual({ name: 'worker-node-a', workerType: 'local', workerRole: 'action', runtime: 7, host: 'node-a', port: 9000 });
    expect(resolveWorkerIdentity({ workerConfig: { ...base, host: '10.0.0.5' }, env: {}, hostname: 'n' }).identity.host).toBe('10.0.0.5');
    expect(resolveWorkerIdentity({ workerConfig: base, env: {}, hostname: null }).identity.host).toBeNull();
  });
});
