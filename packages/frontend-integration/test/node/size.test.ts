// The bundle budgets: each entry point, minified and gzipped, as an app's bundler would ship it.
// esbuild is only the measuring tool here (the package itself is built by tsc, file by file).
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

/**
 * Budgets in kB, with the runtime dependencies (query-core, openapi-fetch, eventsource-parser,
 * idb). The core passed its first 35 kB with overlays, the outbox, persistence and tab sharing;
 * the `/sw` worker entry needs the services and the outbox but tree-shakes the rest.
 */
const BUDGETS: { [entry: string]: number } = { 'index.ts': 44, 'sw.ts': 18 };

describe('bundle size', () => {
  for (const [entry, budget] of Object.entries(BUDGETS)) {
    it(`keeps ${entry} under ${budget} kB minified and gzipped`, async () => {
      const result = await build({
        entryPoints: [new URL(`../../src/${entry}`, import.meta.url).pathname],
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
        `${entry}: ${(code.byteLength / 1024).toFixed(1)} kB minified, ${(gzipped / 1024).toFixed(1)} kB gzipped (budget ${budget} kB)`,
      );
      expect(gzipped).toBeLessThan(budget * 1024);
    });
  }
});
