// The package as it would be published: built by tsc, packed by npm, then checked by publint
// (exports, files, module format) and @arethetypeswrong/cli (types resolve for every entry
// point under Node16 ESM and bundlers; ESM only, so CommonJS resolution is not asked for).
import { execFile } from 'node:child_process';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { publint } from 'publint';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const PACKAGE = join(import.meta.dirname, '..', '..');
const BIN = join(PACKAGE, 'node_modules', '.bin');
let work = '';
let tarball = '';

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'pyat-publish-'));
  const pkg = join(work, 'package');
  await run(join(BIN, 'tsc'), ['-p', 'tsconfig.build.json', '--outDir', join(pkg, 'dist')], {
    cwd: PACKAGE,
  });
  await cp(join(PACKAGE, 'package.json'), join(pkg, 'package.json'));
  await cp(join(PACKAGE, 'src'), join(pkg, 'src'), { recursive: true });
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: pkg,
  });
  tarball = join(work, (JSON.parse(stdout) as { filename: string }[])[0]?.filename ?? '');
}, 120_000);

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('publishing', () => {
  it('is publint clean (strict)', async () => {
    const { messages } = await publint({
      pkgDir: join(work, 'package'),
      pack: 'npm',
      strict: true,
      level: 'warning',
    });
    expect(messages).toEqual([]);
  });

  it('has types that resolve for every entry point (@arethetypeswrong/cli, ESM only)', async () => {
    const result = await run(
      join(BIN, 'attw'),
      [tarball, '--profile', 'esm-only', '--format', 'ascii'],
      {
        cwd: work,
      },
    ).catch((error: { stdout?: string; code?: number }) => error);
    // attw exits non-zero on any problem its profile does not ignore.
    expect('code' in result ? result.stdout : 'clean').toBe('clean');
    expect(result.stdout).toMatch(/"@pyairtable\/frontend-integration\/sw"/);
  });
});
