// docker/docker-compose.agent-workers{,.object}.yaml: the chart's pattern outside Kubernetes
// (parsed, not run: there is no Docker engine here), hardened like the chart's restricted pods.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

import { COMPOSE_FILE, COMPOSE_OBJECT_FILE } from './chart-helpers';

interface Service {
  image?: string;
  user?: string;
  read_only?: boolean;
  cap_drop?: string[];
  cap_add?: string[];
  security_opt?: string[];
  tmpfs?: string[];
  network_mode?: string;
  entrypoint?: string[];
  command?: string[];
  volumes?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  stop_grace_period?: string;
  restart?: string;
}

// `merge: true` resolves the `<<: *anchor` keys the way Compose does.
function load(file: string): { services: Record<string, Service>; volumes: Record<string, unknown> } {
  return parseYaml(readFileSync(file, 'utf8'), { merge: true });
}
const compose = load(COMPOSE_FILE);
const services = compose.services;
const workersOf = (s: Record<string, Service>): [string, Service][] => Object.entries(s).filter(([, v]) => v.command?.[0] === 'run');
const workers = workersOf(services);
const completed = { condition: 'service_completed_successfully' };

function expectRestricted(name: string, s: Service): void {
  expect(s.user, name).toBe('1000:1000');
  expect(s.read_only, name).toBe(true);
  expect(s.cap_drop, name).toEqual(['ALL']);
  expect(s.cap_add, name).toBeUndefined();
  expect(s.security_opt, name).toContain('no-new-privileges:true');
  expect(s.tmpfs, name).toEqual(['/tmp:size=1g,mode=1777']);
}

describe('docker-compose.agent-workers.yaml', () => {
  it('hands the writable volumes to uid 1000 first, in the only root container, with CHOWN alone and no network', () => {
    const owner = services['agent-volume-owner'] as Service;
    expect(owner).toMatchObject({ user: '0:0', read_only: true, cap_drop: ['ALL'], cap_add: ['CHOWN'], network_mode: 'none', restart: 'no' });
    expect(owner.command).toEqual(['-R', '1000:1000', '/v/agent_bundle', '/v/runtime_envs', '/v/artifacts']);
    expect(owner.volumes).toEqual(['agent_bundle:/v/agent_bundle', 'runtime_envs:/v/runtime_envs', 'artifacts_data:/v/artifacts']);
    const rootServices = Object.entries(services).filter(([, s]) => s.user !== '1000:1000').map(([n]) => n);
    expect(rootServices).toEqual(['agent-volume-owner']);
  });

  it('installs the bundle with the agent itself into a named volume, once, as uid 1000', () => {
    const init = services['init-agent-bundle'] as Service;
    expectRestricted('init-agent-bundle', init);
    expect(init.entrypoint).toEqual(['/opt/attune/agent/attune-agent']);
    expect(init.command).toEqual(['install', '--from', '/opt/attune/agent', '--to', '/agent-bin']);
    expect(init.volumes).toEqual(['agent_bundle:/agent-bin']);
    expect(init.depends_on).toEqual({ 'agent-volume-owner': completed });
    expect(compose.volumes).toHaveProperty('agent_bundle');
  });

  it('waits for the schema and the packs with the installed agent', () => {
    expect(services['agent-wait-schema']?.command).toEqual(['wait', 'schema', '--timeout', '600']);
    expect(services['agent-wait-packs']?.command).toEqual(['wait', 'packs', '--timeout', '600']);
    for (const name of ['agent-wait-schema', 'agent-wait-packs']) {
      expectRestricted(name, services[name]!);
      expect(services[name]?.volumes).toContain('agent_bundle:/opt/attune/agent:ro');
      expect(services[name]?.depends_on?.['init-agent-bundle']).toEqual(completed);
    }
  });

  it('runs ruby and python workers from stock slim images, restricted, with the agent as entrypoint', () => {
    expect(workers.map(([, s]) => s.image).sort()).toEqual(['python:3.12-slim', 'ruby:3.3-slim']);
    for (const [name, s] of workers) {
      expectRestricted(name, s);
      expect(s.entrypoint, name).toEqual(['/opt/attune/agent/attune-agent']);
      expect(s.volumes, name).toEqual(['agent_bundle:/opt/attune/agent:ro', '${ATTUNE_PACKS_VOLUME:-packs_data}:/opt/attune/packs:ro', 'runtime_envs:/opt/attune/runtime_envs', 'artifacts_data:/opt/attune/artifacts']);
      expect(s.stop_grace_period, name).toBe('45s');
      for (const dep of ['agent-volume-owner', 'init-agent-bundle', 'agent-wait-schema', 'agent-wait-packs']) expect(s.depends_on?.[dep], `${name} → ${dep}`).toEqual(completed);
      expect(s.environment).toMatchObject({ ATTUNE_WORKER_TYPE: 'container', ATTUNE__PACKS__TRANSPORT: 'volume', ATTUNE__ARTIFACTS__TRANSPORT: 'volume', HOME: '/tmp', RUST_LOG: '${ATTUNE_AGENT_LOG_LEVEL:-info}' });
      expect(s.environment?.ATTUNE__DATABASE__URL).toBeDefined();
      // The drain must end before Docker's SIGKILL at stop_grace_period.
      expect(Number(s.environment?.ATTUNE__WORKER__SHUTDOWN_TIMEOUT)).toBeLessThan(45);
    }
  });

  it('uses the override as a filter with canonical names only', () => {
    expect(workers.find(([, s]) => s.image === 'python:3.12-slim')?.[1].environment?.ATTUNE_WORKER_RUNTIMES).toBe('python,shell,native');
    expect(workers.find(([, s]) => s.image === 'ruby:3.3-slim')?.[1].environment).not.toHaveProperty('ATTUNE_WORKER_RUNTIMES');
  });
});

describe('docker-compose.agent-workers.object.yaml (storage.mode object)', () => {
  const obj = load(COMPOSE_OBJECT_FILE);
  const objWorkers = workersOf(obj.services);

  it('has no shared packs volume and no wait for packs; both transports api with ATTUNE_API_URL', () => {
    expect(Object.keys(obj.services).sort()).toEqual(['agent-volume-owner', 'agent-wait-schema', 'agent-worker-python', 'init-agent-bundle']);
    expect(objWorkers).toHaveLength(1);
    for (const [name, s] of objWorkers) {
      expectRestricted(name, s);
      expect(s.environment).toMatchObject({ ATTUNE__PACKS__TRANSPORT: 'api', ATTUNE__ARTIFACTS__TRANSPORT: 'api', ATTUNE_API_URL: '${ATTUNE_API_URL:-http://attune-api:8080}' });
      // Writable per-worker caches, nothing read-only except the agent bundle.
      expect(s.volumes).toEqual(['agent_bundle:/opt/attune/agent:ro', 'packs_cache:/opt/attune/packs', 'runtime_envs_cache:/opt/attune/runtime_envs', 'artifact_staging:/opt/attune/artifacts']);
      expect(Object.keys(s.depends_on ?? {})).not.toContain('agent-wait-packs');
    }
    expect(obj.services['agent-volume-owner']?.command).toEqual(['-R', '1000:1000', '/v/agent_bundle', '/v/packs', '/v/runtime_envs', '/v/artifacts']);
  });
});
