// Package hygiene: the lock file, the exports map and the generated wire types.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { staleFiles } from '../../scripts/generate-types.mjs';

const PACKAGE = join(import.meta.dirname, '..', '..');

describe('package hygiene', () => {
  it('locks every dependency without a registry address', async () => {
    const lock = await readFile(join(PACKAGE, 'package-lock.json'), 'utf8');
    expect(lock).not.toMatch(/"resolved"\s*:/);
    expect(await readFile(join(PACKAGE, '.npmrc'), 'utf8')).toContain(
      'omit-lockfile-registry-resolved=true',
    );
  });

  it('is ESM only, side-effect free, with types first in every export', async () => {
    const manifest = JSON.parse(await readFile(join(PACKAGE, 'package.json'), 'utf8'));
    expect(manifest.type).toBe('module');
    expect(manifest.sideEffects).toBe(false);
    for (const [path, target] of Object.entries(manifest.exports as Record<string, unknown>)) {
      if (typeof target === 'string') continue;
      expect(Object.keys(target as object), path).toEqual(['types', 'import']);
    }
    for (const [name, version] of Object.entries({
      ...manifest.dependencies,
      ...manifest.devDependencies,
    })) {
      // Exact pins (a pre-release such as next-auth 5.0.0-beta.32 is pinned exactly too).
      expect(version, name).toMatch(/^\d+\.\d+\.\d+(-[\w.]+)?$/);
    }
  });

  it('has wire types generated from the current OpenAPI document', async () => {
    expect(await staleFiles()).toEqual([]);
  });
});
