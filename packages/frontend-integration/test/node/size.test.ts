// The bundle budget: the core entry, minified and gzipped, as an app's bundler would ship it.
// esbuild is only the measuring tool here (the package itself is built by tsc, file by file).
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/**
 * The core (`.`) with its runtime dependencies (query-core, openapi-fetch, eventsource-parser,
 * idb): overlays, the outbox, cache persistence and tab sharing took it past the first 35 kB.
 */
const CORE_BUDGET_BYTES = 44 * 1024;

describe('bundle size', () => {
  it(`keeps the core under ${CORE_BUDGET_BYTES / 1024} kB minified and gzipped`, async () => {
    const result = await build({
      entryPoints: [new URL('../../src/index.ts', import.meta.url).pathname],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      write: false,
      treeShaking: true,
    });
    const code = result.outputFiles[0]?.contents ?? new Uint8Array();
    const gzipped = gzipSync(code).byteLength;
    console.log(
      `core: ${(code.byteLength / 1024).toFixed(1)} kB minified, ${(gzipped / 1024).toFixed(1)} kB gzipped (budget ${CORE_BUDGET_BYTES / 1024} kB)`,
    );
    expect(gzipped).toBeLessThan(CORE_BUDGET_BYTES);
  });
});
