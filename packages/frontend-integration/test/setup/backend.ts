// Vitest global setup: the real reference backend on a free loopback port, for the whole run.
//
// `pyairtable-integration serve` from the repository's .venv, with a temporary data folder and
// the rate limits lifted (tests sign in and write far faster than a person). The URL reaches the
// tests through `inject('apiURL')`; the process and its folder are gone when the run ends.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestProject } from 'vitest/node';

const ROOT = resolve(import.meta.dirname, '..', '..', '..', '..');
const CLI = join(ROOT, '.venv', 'bin', 'pyairtable-integration');
const STARTUP_MS = 60_000;

declare module 'vitest' {
  export interface ProvidedContext {
    apiURL: string;
  }
}

export function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.unref();
    server.on('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => done(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function cleanEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!key.startsWith('PYAIRTABLE_')) env[key] = value;
  }
  return { ...env, ...extra };
}

async function waitForHealth(url: string, child: ChildProcess, output: string[]): Promise<void> {
  const deadline = Date.now() + STARTUP_MS;
  for (;;) {
    if (child.exitCode !== null) {
      throw new Error(`the backend exited with ${child.exitCode}:\n${output.join('')}`);
    }
    try {
      const response = await fetch(`${url}/health`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the backend did not start:\n${output.join('')}`);
    await new Promise((done) => setTimeout(done, 100));
  }
}

/** Starts the backend with `extra` settings; its API URL and the function that stops it. */
export async function startBackend(
  extra: Record<string, string> = {},
): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const dataDir = await mkdtemp(join(tmpdir(), 'pyat-ts-'));
  const origins = extra.PYAIRTABLE_CORS_ORIGINS ?? process.env.PYAT_TEST_CORS_ORIGINS ?? '';
  const child = spawn(
    CLI,
    ['serve', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warning'],
    {
      cwd: dataDir,
      env: cleanEnvironment({
        PYAIRTABLE_RATE_LIMIT_PER_IP: '1000000/minute',
        PYAIRTABLE_RATE_LIMIT_PER_TOKEN: '1000000/minute',
        PYAIRTABLE_LOGIN_FAILURES_PER_ACCOUNT: '1000/minute',
        PYAIRTABLE_LOGIN_FAILURES_PER_IP: '100000/minute',
        PYAIRTABLE_REGISTRATIONS_PER_IP: '100000/minute',
        PYAIRTABLE_REALTIME_POLL_INTERVAL_SECONDS: '0.2',
        PYAIRTABLE_CORS_ORIGINS: origins,
        ...extra,
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output: string[] = [];
  child.stdout?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const url = `http://127.0.0.1:${port}/api/v1`;
  try {
    await waitForHealth(url, child, output);
  } catch (error) {
    child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    url,
    stop: async () => {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { url, stop } = await startBackend();
  project.provide('apiURL', url);
  return stop;
}
