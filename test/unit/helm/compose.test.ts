// docker/docker-compose.agent-workers.yaml: the chart's pattern outside Kubernetes (parsed, not run:
// there is no Docker engine here).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

import { COMPOSE_FILE } from './chart-helpers';

interface Service {
  image?: string;
  entrypoint?: string[];
  command?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  stop_grace_period?: string;
  restart?: string;
}

// `merge: true` resolves the `<<: *anchor` keys the way Compose does.
const compose = parseYaml(readFileSync(COMPOSE_FILE, 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const services = compose.services;
const workers = Object.entries(services).filter(([, s]) => s.command?.[0] === 'run');

describe('docker-compose.agent-workers.yaml', () => {
  it('installs the bundle with the agent itself into a named volume, once', () => {
    const init = services['init-agent-bundle'] as Service;
    expect(init.entrypoint).toEqual(['/opt/attune/agent/attune-agent']);
    expect(init.command).toEqual(['install', '--from', '/opt/attune/agent', '--to', '/agent-bin']);
    expect(init.volumes).toEqual(['agent_bundle:/agent-bin']);
    expect(init.restart).toBe('no');
    expect(compose.volumes).toHaveProperty('agent_bundle');
  });

  it('waits for the schema and the packs with the installed agent', () => {
    expect(services['agent-wait-schema']?.command).toEqual(['wait', 'schema', '--timeout', '600']);
    expect(services['agent-wait-packs']?.command).toEqual(['wait', 'packs', '--timeout', '600']);
    for (const name of ['agent-wait-schema', 'agent-wait-packs']) {
      expect(services[name]?.volumes).toContain('agent_bundle:/opt/attune/agent:ro');
      expect(services[name]?.depends_on?.['init-agent-bundle']).toEqual({ condition: 'service_completed_successfully' });
    }
  });

  it('runs ruby and python workers from stock slim images with the agent as entrypoint', () => {
    expect(workers.map(([, s]) => s.image).sort()).toEqual(['python:3.12-slim', 'ruby:3.3-slim']);
    for (const [name, s] of workers) {
      expect(s.entrypoint, name).toEqual(['/opt/attune/agent/attune-agent']);
      expect(s.volumes, name).toContain('agent_bundle:/opt/attune/agent:ro');
      expect(s.stop_grace_period, name).toBe('45s');
      for (const dep of ['init-agent-bundle', 'agent-wait-schema', 'agent-wait-packs']) {
        expect(s.depends_on?.[dep], `${name} → ${dep}`).toEqual({ condition: 'service_completed_successfully' });
      }
      expect(s.environment?.ATTUNE_WORKER_TYPE).toBe('container');
      expect(s.environment?.ATTUNE__DATABASE__URL).toBeDefined();
      expect(s.environment?.ATTUNE__MESSAGE_QUEUE__URL).toBeDefined();
      // The drain must end before Docker's SIGKILL at stop_grace_period.
      expect(Number(s.environment?.ATTUNE__WORKER__SHUTDOWN_TIMEOUT)).toBeLessThan(45);
    }
  });

  it('uses the override as a filter with canonical names only', () => {
    const python = workers.find(([, s]) => s.image === 'python:3.12-slim')?.[1];
    expect(python?.environment?.ATTUNE_WORKER_RUNTIMES).toBe('python,shell,native');
    const ruby = workers.find(([, s]) => s.image === 'ruby:3.3-slim')?.[1];
    expect(ruby?.environment).not.toHaveProperty('ATTUNE_WORKER_RUNTIMES');
  });
});
