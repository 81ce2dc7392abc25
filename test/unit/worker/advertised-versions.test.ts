import { describe, expect, it } from 'vitest';
import { replaceRuntimeVersions } from '../../../src/worker/advertised-versions';
import type { Capabilities } from '../../../src/worker/capabilities';

describe('replaceRuntimeVersions', () => {
  it('rewrites the same object in place with sorted keys, so holders see the new versions', () => {
    const caps: Capabilities = { runtimes: ['python'], runtime_versions: { python: ['3.11.2'], node: ['20'] } };
    const held = caps.runtime_versions as Record<string, string[]>;
    replaceRuntimeVersions(caps, { shell: ['5.2'], python: ['3.12', '3.11'] });
    expect(caps.runtime_versions).toBe(held);
    expect(held).toEqual({ python: ['3.12', '3.11'], shell: ['5.2'] });
    expect(Object.keys(held)).toEqual(['python', 'shell']);
  });

  it('creates the map when the capabilities had none', () => {
    const caps: Capabilities = { runtimes: [] };
    replaceRuntimeVersions(caps, { python: ['3.12'] });
    expect(caps.runtime_versions).toEqual({ python: ['3.12'] });
  });
});
