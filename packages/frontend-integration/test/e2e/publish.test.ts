// The package as published (built once, by the end-to-end setup), checked the way a consumer's
// tools see it (publint, Are The Types Wrong under the ESM-only profile) and for the
// `"use client"` directive that every React module must keep in its built file (Next.js reads it
// there).
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const PACKAGE = join(import.meta.dirname, '..', '..');
const BIN = join(PACKAGE, 'node_modules', '.bin');

describe('the published package', () => {
  it('keeps "use client" first in every built React module, and off the server ones', async () => {
    const folder = join(PACKAGE, 'dist', 'react');
    const modules = (await readdir(folder))
      .filter((name) => name.endsWith('.js'))
      .map((name) => join('react', name));
    expect(modules.length).toBeGreaterThan(0);
    for (const name of [...modules, 'next/client.js']) {
      const code = await readFile(join(PACKAGE, 'dist', name), 'utf8');
      expect(code.startsWith("'use client';"), name).toBe(true);
    }
    for (const name of ['next/index.js', 'next/server.js', 'index.js', 'query/index.js']) {
      const code = await readFile(join(PACKAGE, 'dist', name), 'utf8');
      expect(code.includes("'use client'"), name).toBe(false);
    }
  });

  it('is publint clean (strict, suggestions included)', async () => {
    const manifest = JSON.parse(await readFile(join(PACKAGE, 'package.json'), 'utf8'));
    const { messages } = await publint({ pkgDir: PACKAGE, strict: true, level: 'suggestion' });
    expect(messages.map((message) => formatMessage(message, manifest))).toEqual([]);
  });

  it('has types that resolve for every entry point (attw, ESM-only profile)', async () => {
    const { stdout } = await run(
      join(BIN, 'attw'),
      ['--pack', '.', '--profile', 'esm-only', '--format', 'json', '--no-emoji'],
      { cwd: PACKAGE, maxBuffer: 16 * 1024 * 1024 },
    ).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
    const report = JSON.parse(stdout) as {
      analysis: { problems?: { kind: string; entrypoint: string; resolutionKind: string }[] };
    };
    const problems = (report.analysis.problems ?? []).filter(
      (problem) => problem.resolutionKind === 'node16-esm' || problem.resolutionKind === 'bundler',
    );
    expect(problems).toEqual([]);
  });
});
