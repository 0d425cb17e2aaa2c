// Vitest global setup for the end-to-end tests: the real backend (its CORS opened to the app),
// the package built once (tsc) and the Next.js demo built once and served on a free port.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { freePort, startBackend } from './backend.js';

const PACKAGE = resolve(import.meta.dirname, '..', '..');
const APP = join(PACKAGE, 'examples', 'next-app');
const BIN = join(PACKAGE, 'node_modules', '.bin');
const run = promisify(execFile);

declare module 'vitest' {
  export interface ProvidedContext {
    appURL: string;
  }
}

async function waitFor(url: string, child: ChildProcess, output: string[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`next start exited:\n${output.join('')}`);
    try {
      if ((await fetch(url)).status < 500) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the demo did not start:\n${output.join('')}`);
    await new Promise((done) => setTimeout(done, 200));
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const port = await freePort();
  // The browser reaches the app at localhost (a secure context, so the Secure cookie is kept).
  const appURL = `http://localhost:${port}`;
  const { url: apiURL, stop: stopBackend } = await startBackend({
    PYAIRTABLE_CORS_ORIGINS: appURL,
    // Three tabs of one user must share one connection: a third would be refused.
    PYAIRTABLE_REALTIME_MAX_CONNECTIONS_PER_USER: '2',
  });
  project.provide('apiURL', apiURL);
  const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1' };
  try {
    await run(join(BIN, 'tsc'), ['-p', 'tsconfig.build.json'], { cwd: PACKAGE });
    await run(join(BIN, 'next'), ['build', APP], {
      cwd: PACKAGE,
      env: { ...env, PYAT_API_URL: apiURL, PYAT_SESSION_SECRET: 'x'.repeat(32) },
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    await stopBackend();
    throw error;
  }
  const output: string[] = [];
  const child = spawn(
    join(BIN, 'next'),
    ['start', APP, '--port', String(port), '--hostname', '127.0.0.1'],
    {
      cwd: PACKAGE,
      env: {
        ...env,
        PYAT_API_URL: apiURL,
        PYAT_SESSION_SECRET: randomBytes(32).toString('base64url'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  try {
    await waitFor(`http://127.0.0.1:${port}/signin`, child, output);
  } catch (error) {
    child.kill('SIGKILL');
    await stopBackend();
    throw error;
  }
  project.provide('appURL', appURL);
  return async () => {
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    await exited;
    await stopBackend();
  };
}
