// Bundle budgets per entry point: each subpath, minified and gzipped, as an app's bundler would
// ship it. esbuild is only the measuring tool here (the package itself is built by tsc, file by
// file). Peer dependencies (React, TanStack React Query) are left out: the app ships them anyway.
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const PEERS = [
  'react',
  'react-dom',
  'react/jsx-runtime',
  '@tanstack/react-query',
  'next',
  'next/headers',
  'next/server',
  'next-auth',
  'next-auth/providers/credentials',
];

/**
 * Budgets in bytes, gzipped, peers excluded. Each subpath is measured alone, with the core it
 * uses; an app importing several ships that core once (`/react` adds about 1.5 kB to it).
 */
const BUDGETS: { entry: string; source: string; budget: number; note: string }[] = [
  {
    entry: '.',
    source: '../../src/index.ts',
    // Passed its first 35 kB with overlays, the outbox, persistence and tab sharing.
    budget: 44 * 1024,
    note: 'the core, with query-core, openapi-fetch, eventsource-parser and idb',
  },
  {
    entry: './sw',
    source: '../../src/sw.ts',
    budget: 18 * 1024,
    note: 'the Service Worker outbox drainer: the services and the outbox, tree-shaken',
  },
  {
    entry: './query',
    source: '../../src/query/index.ts',
    budget: 12 * 1024,
    note: 'query options, with the services and transport they fetch through',
  },
  {
    entry: './react',
    source: '../../src/react/index.ts',
    budget: 46 * 1024,
    note: 'the provider and hooks, with the core the provider builds',
  },
  {
    entry: './next',
    source: '../../src/next/index.ts',
    budget: 58 * 1024,
    note: 'server only, never shipped to browsers: the session, jose and the core',
  },
  {
    entry: './next/client',
    source: '../../src/next/client.tsx',
    budget: 45 * 1024,
    note: 'the browser provider, its token provider, the React layer and the core',
  },
  {
    entry: './next-auth',
    source: '../../src/next-auth/index.ts',
    budget: 44 * 1024,
    note: 'server only: the Auth.js callbacks and the core they sign in with',
  },
];

async function gzippedSize(source: string): Promise<{ minified: number; gzipped: number }> {
  const result = await build({
    entryPoints: [new URL(source, import.meta.url).pathname],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    write: false,
    treeShaking: true,
    external: PEERS,
    jsx: 'automatic',
  });
  const code = result.outputFiles[0]?.contents ?? new Uint8Array();
  return { minified: code.byteLength, gzipped: gzipSync(code).byteLength };
}

describe('bundle size', () => {
  for (const { entry, source, budget, note } of BUDGETS) {
    it(`keeps ${entry} under ${budget / 1024} kB minified and gzipped (${note})`, async () => {
      const { minified, gzipped } = await gzippedSize(source);
      console.log(
        `${entry}: ${(minified / 1024).toFixed(1)} kB minified, ${(gzipped / 1024).toFixed(1)} kB gzipped (budget ${budget / 1024} kB)`,
      );
      expect(gzipped).toBeLessThan(budget);
    });
  }
});
