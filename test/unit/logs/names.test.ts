import { describe, expect, it } from 'vitest';
import { artifactRefProblem, effectiveRetention, logArtifactDescription, logArtifactName, logArtifactRef, logFilePath } from '../../../src/logs/names';

describe('log artifact names (spec 06 §2.2, §2.3)', () => {
  it('builds upstream ref, name, description and file path', () => {
    expect(logArtifactRef('mypack.deploy', 'stdout')).toBe('mypack.deploy.stdout.log');
    expect(logArtifactName('mypack.deploy', 'stderr')).toBe('mypack.deploy stderr');
    expect(logArtifactDescription('mypack.deploy', 'stdout', 'days', 7)).toBe("Captured stdout for action 'mypack.deploy' (retention: Days 7)");
    expect(logArtifactDescription('mypack.deploy', 'stderr', 'versions', 3)).toBe("Captured stderr for action 'mypack.deploy' (retention: Versions 3)");
    expect(logFilePath('mypack.deploy.stdout.log', 3)).toBe('mypack/deploy/stdout/log/v3.txt');
  });

  it('rejects refs the artifact_ref_path_safe CHECK would reject', () => {
    expect(artifactRefProblem('mypack.a.stdout.log')).toBeNull();
    for (const bad of ['', ' a.b', 'a/b.log', 'a..b', '.a', 'a.', 'a:b', 'a\\b']) expect(artifactRefProblem(bad)).not.toBeNull();
  });

  it('falls back to the worker default for policy and limit independently', () => {
    const d = { policy: 'days' as const, limit: 7 };
    expect(effectiveRetention({ logRetentionPolicy: null, logRetentionLimit: null }, d)).toEqual({ policy: 'days', limit: 7 });
    expect(effectiveRetention({ logRetentionPolicy: 'versions', logRetentionLimit: null }, d)).toEqual({ policy: 'versions', limit: 7 });
    expect(effectiveRetention({ logRetentionPolicy: null, logRetentionLimit: 3 }, d)).toEqual({ policy: 'days', limit: 3 });
  });
});
