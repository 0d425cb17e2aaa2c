// The TypeScript package's benchmark (run by `python3 dev.py bench`, or `npm run bench` in
// packages/frontend-integration): ratios against a baseline measured in the same run.
//
//   1. layer overhead on a cache miss: a record list through the integration (caching off) vs
//      the same request with raw fetch, interleaved; target under 1.15x
//   2. a cached read vs a network read through the integration
//   3. 100 identical concurrent GETs: how many requests reach the backend (target 1)
//   4. a cached read of the 50-row list with 10 pending optimistic writes shown on top vs none
//
// The package is bundled with esbuild into a temporary module (Node 20 cannot import .ts), and
// the real backend is started on a free loopback port with a temporary data folder.
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = resolve(import.meta.dirname, '..');
const PACKAGE = join(ROOT, 'packages', 'frontend-integration');
const ROUNDS = 300;
const { build } = await import(pathToFileURL(join(PACKAGE, 'node_modules', 'esbuild', 'lib', 'main.js')).href);

function freePort() {
  return new Promise((done) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

const work = await mkdtemp(join(tmpdir(), 'pyat-bench-'));
const port = await freePort();
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PYAIRTABLE_')));
const server = spawn(join(ROOT, '.venv', 'bin', 'pyairtable-integration'), ['serve', '--port', String(port), '--data-dir', work, '--log-level', 'warning'], {
  env: { ...env, PYAIRTABLE_RATE_LIMIT_PER_IP: '1000000/minute', PYAIRTABLE_RATE_LIMIT_PER_TOKEN: '1000000/minute' },
  stdio: 'ignore',
});
const base = `http://127.0.0.1:${port}/api/v1`;
try {
  for (let i = 0; ; i += 1) {
    try {
      if ((await fetch(`${base}/health`)).ok) break;
    } catch {}
    if (i > 600) throw new Error('the backend did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const bundle = join(work, 'integration.mjs');
  await build({ entryPoints: [join(PACKAGE, 'src', 'index.ts')], bundle: true, format: 'esm', platform: 'node', outfile: bundle });
  const { createPyAirtableIntegration } = await import(pathToFileURL(bundle).href);

  let sent = 0;
  const counting = (input, init) => {
    sent += 1;
    return fetch(input, init);
  };
  const options = { baseURL: base, features: { enableRealtime: false } };
  const plain = createPyAirtableIntegration({ ...options, enableCaching: false, deduplicateRequests: false }, { fetch: counting });
  await plain.services.auth.register({ email: 'bench@example.com', password: 'correct horse battery staple', firstName: 'B', lastName: 'M' });
  await plain.auth.login('bench@example.com', 'correct horse battery staple');
  const workspace = await plain.services.workspace.createWorkspace({ name: 'Bench' });
  const b = await plain.services.base.createBase({ workspaceId: workspace.id, name: 'Bench' });
  const table = await plain.services.table.createTable({ baseId: b.id, name: 'Rows' });
  await plain.services.record.createRecords(table.id, Array.from({ length: 50 }, (_, i) => ({ Name: `row ${i}` })));
  const token = plain.auth.session.accessToken;
  const url = `${base}/records?table_id=${table.id}`;

  const raw = async () => {
    const response = await fetch(url, { headers: { Authorization: `Bearer ${token}`, 'X-Request-ID': crypto.randomUUID() } });
    return response.json();
  };
  const layered = () => plain.services.record.getRecords(table.id);
  for (let i = 0; i < 30; i += 1) {
    await raw();
    await layered();
  }
  let rawTime = 0;
  let layerTime = 0;
  for (let i = 0; i < ROUNDS; i += 1) {
    let t = performance.now();
    await raw();
    rawTime += performance.now() - t;
    t = performance.now();
    await layered();
    layerTime += performance.now() - t;
  }
  console.log(`cache miss through the layer vs raw fetch: ${(layerTime / ROUNDS).toFixed(2)} ms vs ${(rawTime / ROUNDS).toFixed(2)} ms = ${(layerTime / rawTime).toFixed(3)}x (target < 1.15x)`);

  const cached = createPyAirtableIntegration(options, { fetch: counting });
  await cached.auth.login('bench@example.com', 'correct horse battery staple');
  await cached.services.record.getRecords(table.id);
  let cachedTime = 0;
  for (let i = 0; i < ROUNDS; i += 1) {
    const t = performance.now();
    await cached.services.record.getRecords(table.id);
    cachedTime += performance.now() - t;
  }
  console.log(`cached read vs network read: ${(cachedTime / ROUNDS).toFixed(3)} ms vs ${(layerTime / ROUNDS).toFixed(2)} ms = ${(layerTime / cachedTime).toFixed(0)}x faster`);

  await cached.services.table.getTable(table.id); // the schema the overlay view places rows by
  const rows = (await cached.services.record.getRecords(table.id)).data;
  for (const row of rows.slice(0, 10)) cached.optimistic.optimisticUpdateRecord(row.id, { Name: `pending ${row.id}` });
  let overlaidTime = 0;
  for (let i = 0; i < ROUNDS; i += 1) {
    const t = performance.now();
    await cached.services.record.getRecords(table.id);
    overlaidTime += performance.now() - t;
  }
  console.log(`cached read with 10 pending overlays vs none: ${(overlaidTime / ROUNDS).toFixed(3)} ms vs ${(cachedTime / ROUNDS).toFixed(3)} ms = ${(overlaidTime / cachedTime).toFixed(2)}x`);

  const shared = createPyAirtableIntegration({ ...options, enableCaching: false }, { fetch: counting });
  await shared.auth.login('bench@example.com', 'correct horse battery staple');
  sent = 0;
  await Promise.all(Array.from({ length: 100 }, () => shared.services.record.getRecords(table.id)));
  console.log(`100 identical concurrent GETs -> ${sent} request(s) (target 1)`);
  for (const pa of [plain, cached, shared]) await pa.close();
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  await rm(work, { recursive: true, force: true });
}
