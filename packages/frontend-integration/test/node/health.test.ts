// Health and debug against the real backend: getServiceHealth (never throws), the connection
// status from real traffic, metrics, and debug logging with secrets redacted.
import { afterEach, describe, expect, it } from 'vitest';
import type { PyAirtableIntegration } from '../../src/integration.js';
import { FaultyFetch, PASSWORD, signedIn, uniqueEmail } from '../support/backend.js';

const opened: PyAirtableIntegration[] = [];
afterEach(async () => {
  for (const pa of opened.splice(0)) await pa.close();
});

describe('health and debug', () => {
  it('reports health, connection status and metrics from real traffic', async () => {
    const faulty = new FaultyFetch();
    const pa = await signedIn({ retryAttempts: 0 }, { fetch: faulty.fetch });
    opened.push(pa);
    await pa.services.workspace.getWorkspaces();
    await pa.services.workspace.getWorkspaces(); // a cache hit

    const health = await pa.getServiceHealth();
    expect(health.error).toBeNull();
    expect(health.backend?.status).toBe('ok');
    expect(health.breakers.workspace?.state).toBe('closed');
    expect(pa.getConnectionStatus()).toMatchObject({ online: true, lastFailure: null });

    faulty.failNext(1, 'refuse');
    const down = await pa.getServiceHealth();
    expect(down.backend).toBeNull();
    expect(down.error).toMatch(/NetworkError|connect/i);
    expect(pa.getConnectionStatus()).toMatchObject({ online: false, lastFailure: 'NETWORK_ERROR' });

    const metrics = pa.getMetrics();
    expect(metrics.services.workspace).toMatchObject({ requests: 1, errors: {} });
    expect(metrics.services.workspace?.latency.p50).toBeGreaterThan(0);
    expect(metrics.services.health?.errors).toEqual({ NETWORK_ERROR: 1 });
    expect(metrics.cache).toEqual({ hits: 1, misses: 1, ratio: 0.5 });
  });

  it('logs requests with debug on, tokens and passwords redacted', async () => {
    const lines: string[] = [];
    const email = uniqueEmail('debug');
    const pa = await signedIn({ debug: true }, { logger: (line) => lines.push(line) }, email);
    opened.push(pa);
    await pa.services.workspace.createWorkspace({ name: 'logged' });
    const token = (await pa.auth.provider.getToken()) ?? 'no token';
    const log = lines.join('\n');
    expect(log).toMatch(/→ POST .*\/auth\/login/);
    expect(log).toMatch(/← 201 POST .*\/workspaces/);
    expect(log).toContain('"password":"***"');
    expect(log).not.toContain(PASSWORD);
    expect(log).not.toContain(token);
  });
});
