// Every service method against the real backend.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NotFoundError } from '../../src/errors.js';
import type { PyAirtableIntegration } from '../../src/integration.js';
import { makeTable, PASSWORD, signedIn, uniqueEmail } from '../support/backend.js';

let pa: PyAirtableIntegration;
let other: PyAirtableIntegration;
const otherEmail = uniqueEmail('other');

beforeAll(async () => {
  pa = await signedIn({ enableCaching: false });
  other = await signedIn({ enableCaching: false }, {}, otherEmail);
});
afterAll(async () => {
  await pa.close();
  await other.close();
});

describe('auth and user services', () => {
  it('reads and updates the signed-in account', async () => {
    const me = await pa.services.auth.getMe();
    expect(me.email).toContain('@example.com');
    const renamed = await pa.services.auth.updateMe({ firstName: 'Ada' });
    expect(renamed.first_name).toBe('Ada');
    const profile = await pa.services.user.updateCurrentUser({ preferences: { theme: 'dark' } });
    expect(profile.preferences).toEqual({ theme: 'dark' });
    expect((await pa.services.user.getCurrentUser()).preferences).toEqual({ theme: 'dark' });
  });

  it('validates tokens and changes the password', async () => {
    const session = pa.auth.session;
    expect(session).not.toBeNull();
    const valid = await pa.services.auth.validateToken(session?.accessToken ?? '');
    expect(valid.valid).toBe(true);
    expect((await pa.services.auth.validateToken('nonsense')).valid).toBe(false);
    const email = uniqueEmail('pw');
    const third = await signedIn({ enableCaching: false }, {}, email);
    await third.services.auth.changePassword(PASSWORD, `${PASSWORD}!`);
    await third.auth.logout();
    await third.auth.login(email, `${PASSWORD}!`);
    expect(third.auth.isAuthenticated).toBe(true);
    await third.close();
  });

  it('lists users who share a workspace and reads one', async () => {
    const workspace = await pa.services.workspace.createWorkspace({ name: 'Shared' });
    const otherUser = await other.services.auth.getMe();
    await pa.services.workspace.addWorkspaceMember(workspace.id, {
      email: otherEmail,
      role: 'editor',
    });
    const users = await pa.services.user.getUsers({ search: 'other' });
    expect(users.data.map((u) => u.id)).toContain(otherUser.id);
    expect((await pa.services.user.getUser(otherUser.id)).id).toBe(otherUser.id);
    const all = [];
    for await (const user of pa.services.user.iterUsers()) all.push(user.id);
    expect(all).toContain(otherUser.id);
  });
});

describe('workspace service', () => {
  it('creates, reads, updates, lists and deletes workspaces, members and the audit log', async () => {
    const created = await pa.services.workspace.createWorkspace({
      name: 'Ops',
      description: 'Operations',
    });
    expect((await pa.services.workspace.getWorkspace(created.id)).name).toBe('Ops');
    expect((await pa.services.workspace.updateWorkspace(created.id, { name: 'Ops 2' })).name).toBe(
      'Ops 2',
    );
    const page = await pa.services.workspace.getWorkspaces({ perPage: 100 });
    expect(page.data.map((w) => w.id)).toContain(created.id);
    const ids = [];
    for await (const workspace of pa.services.workspace.iterWorkspaces()) ids.push(workspace.id);
    expect(ids).toContain(created.id);

    const otherUser = await other.services.auth.getMe();
    const member = await pa.services.workspace.addWorkspaceMember(created.id, {
      userId: otherUser.id,
      role: 'viewer',
    });
    expect(member.role).toBe('viewer');
    expect(
      (await pa.services.workspace.updateWorkspaceMember(created.id, otherUser.id, 'editor')).role,
    ).toBe('editor');
    expect(
      (await pa.services.workspace.getWorkspaceMembers(created.id)).map((m) => m.user_id),
    ).toContain(otherUser.id);
    expect(await other.auth.can('record:write', { workspaceId: created.id })).toBe(true);
    expect(await other.auth.can('workspace:delete', { workspaceId: created.id })).toBe(false);
    await pa.services.workspace.removeWorkspaceMember(created.id, otherUser.id);
    const audit = await pa.services.workspace.getAuditLog(created.id);
    expect(audit.data.length).toBeGreaterThan(0);
    const entries = [];
    for await (const entry of pa.services.workspace.iterAuditLog(created.id)) entries.push(entry);
    expect(entries.length).toBe(audit.pagination.total);
    await pa.services.workspace.deleteWorkspace(created.id);
    await expect(pa.services.workspace.getWorkspace(created.id)).rejects.toBeInstanceOf(
      NotFoundError,
    );
  });
});

describe('schema services', () => {
  it('covers bases, tables, fields and views', async () => {
    const { workspace, base, table } = await makeTable(pa);
    expect((await pa.services.base.getBase(base.id)).workspace_id).toBe(workspace.id);
    expect((await pa.services.base.updateBase(base.id, { description: 'd' })).description).toBe(
      'd',
    );
    expect((await pa.services.base.getBases(workspace.id)).data.map((b) => b.id)).toContain(
      base.id,
    );
    const bases = [];
    for await (const b of pa.services.base.iterBases(workspace.id)) bases.push(b.id);
    expect(bases).toEqual([base.id]);

    expect((await pa.services.table.getTable(table.id)).fields.map((f) => f.name)).toContain(
      'Status',
    );
    expect((await pa.services.table.updateTable(table.id, { name: 'Tasks 2' })).name).toBe(
      'Tasks 2',
    );
    expect((await pa.services.table.getTables(base.id)).data).toHaveLength(1);
    const tables = [];
    for await (const t of pa.services.table.iterTables(base.id)) tables.push(t.id);
    expect(tables).toEqual([table.id]);

    const field = await pa.services.field.createField({
      tableId: table.id,
      name: 'Done',
      type: 'checkbox',
    });
    expect((await pa.services.field.getField(field.id)).type).toBe('checkbox');
    expect((await pa.services.field.updateField(field.id, { name: 'Finished' })).name).toBe(
      'Finished',
    );
    expect((await pa.services.field.getFields(table.id)).data.map((f) => f.id)).toContain(field.id);
    const fields = [];
    for await (const f of pa.services.field.iterFields(table.id)) fields.push(f.id);
    expect(fields).toContain(field.id);
    await pa.services.field.deleteField(field.id, { tableId: table.id });

    const view = await pa.services.view.createView({ tableId: table.id, name: 'Open' });
    expect((await pa.services.view.getView(view.id)).name).toBe('Open');
    const updated = await pa.services.view.updateView(view.id, {
      configuration: { sorts: [{ field: 'Name', direction: 'desc' }] },
    });
    expect(updated.configuration).toMatchObject({ sorts: [{ direction: 'desc' }] });
    expect((await pa.services.view.getViews(table.id)).data.map((v) => v.id)).toContain(view.id);
    const views = [];
    for await (const v of pa.services.view.iterViews(table.id)) views.push(v.id);
    expect(views).toContain(view.id);
    await pa.services.view.deleteView(view.id);

    await pa.services.table.deleteTable(table.id);
    await expect(pa.services.table.getTable(table.id)).rejects.toBeInstanceOf(NotFoundError);
    await pa.services.base.deleteBase(base.id);
    await expect(pa.services.base.getBase(base.id)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('record service', () => {
  it('reads, writes, batches, filters, sorts and pages records', async () => {
    const { table } = await makeTable(pa);
    const records = pa.services.record;
    const one = await records.createRecord(table.id, { Name: 'alpha', Points: 3 });
    expect(one.version).toBe(1);
    expect((await records.getRecord(one.id)).fields.Name).toBe('alpha');
    const patched = await records.updateRecord(one.id, { Status: 'Done' }, { expectedVersion: 1 });
    expect(patched.version).toBe(2);
    expect(patched.fields).toMatchObject({ Name: 'alpha', Status: 'Done' });
    const replaced = await records.replaceRecord(one.id, { Name: 'beta' });
    expect(replaced.fields).toEqual({ Name: 'beta' });

    const batch = await records.createRecords(
      table.id,
      Array.from({ length: 5 }, (_, i) => ({ Name: `row ${i}`, Points: i })),
    );
    expect(batch).toHaveLength(5);
    const updated = await records.updateRecords(table.id, [
      { id: batch[0]?.id ?? '', fields: { Points: 40 } },
    ]);
    expect(updated[0]?.fields.Points).toBe(40);

    const filtered = await records.getRecords(table.id, {
      filter: {
        conjunction: 'and',
        conditions: [{ field: 'Points', operator: 'greater_equal', value: 3 }],
      },
      sort: [{ field: 'Points', direction: 'desc' }],
      fields: ['Name', 'Points'],
    });
    expect(filtered.data.map((r) => r.fields.Points)).toEqual([40, 4, 3]);
    const queried = await records.queryRecords(table.id, {
      sort: [{ field: 'Name' }],
      pageSize: 2,
    });
    expect(queried.data).toHaveLength(2);
    expect(queried.pagination.next_offset).not.toBeNull();
    const all = [];
    for await (const record of records.iterRecords(table.id, { pageSize: 2 })) all.push(record.id);
    expect(all).toHaveLength(6);
    expect(new Set(all).size).toBe(6);

    const deleted = await records.deleteRecords(table.id, [batch[1]?.id ?? '', batch[2]?.id ?? '']);
    expect(deleted.data.every((d) => d.deleted)).toBe(true);
    await records.deleteRecord(one.id);
    await expect(records.getRecord(one.id)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('file service', () => {
  it('uploads with progress, reads, signs, downloads with progress and deletes', async () => {
    const { workspace, table } = await makeTable(pa);
    const bytes = new Uint8Array(300_000).map((_, i) => i % 251);
    const seen: number[] = [];
    const file = await pa.services.file.uploadFile(
      new Blob([bytes], { type: 'application/octet-stream' }),
      {
        filename: 'data.bin',
        tableId: table.id,
        onProgress: ({ loaded }) => seen.push(loaded),
      },
    );
    expect(file.size).toBe(bytes.byteLength);
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.at(-1)).toBeGreaterThanOrEqual(bytes.byteLength);
    expect((await pa.services.file.getFile(file.id)).filename).toBe('data.bin');
    expect((await pa.services.file.getFileUrl(file.id)).url).toContain(file.id);
    const progress: number[] = [];
    const blob = await pa.services.file.downloadFile(file.id, {
      onProgress: ({ loaded }) => progress.push(loaded),
    });
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(bytes);
    expect(progress.at(-1)).toBe(bytes.byteLength);
    const usage = await pa.services.file.getStorageUsage({ workspaceId: workspace.id });
    expect(usage.user.used_bytes).toBeGreaterThanOrEqual(bytes.byteLength);
    expect(usage.workspace?.used_bytes).toBe(bytes.byteLength);
    await pa.services.file.deleteFile(file.id);
    await expect(pa.services.file.getFile(file.id)).rejects.toBeInstanceOf(NotFoundError);
    expect((await pa.services.file.getStorageUsage()).workspace).toBeNull();
  });
});

describe('webhook, event and health services', () => {
  it('manages webhooks and their deliveries', async () => {
    const { workspace, table } = await makeTable(pa);
    const created = await pa.services.webhook.createWebhook({
      workspaceId: workspace.id,
      url: 'https://hooks.example.com/pyat',
      eventTypes: ['record.*'],
      tableId: table.id,
    });
    expect(created.secret).toMatch(/^whsec_/);
    expect((await pa.services.webhook.getWebhook(created.id)).url).toBe(
      'https://hooks.example.com/pyat',
    );
    expect(
      (await pa.services.webhook.updateWebhook(created.id, { isActive: false })).is_active,
    ).toBe(false);
    expect((await pa.services.webhook.getWebhooks(workspace.id)).data.map((w) => w.id)).toContain(
      created.id,
    );
    const hooks = [];
    for await (const hook of pa.services.webhook.iterWebhooks(workspace.id)) hooks.push(hook.id);
    expect(hooks).toEqual([created.id]);
    await pa.services.webhook.updateWebhook(created.id, { isActive: true });
    const delivery = await pa.services.webhook.testWebhook(created.id);
    expect(delivery.event_type).toBe('webhook.test');
    const deliveries = await pa.services.webhook.getDeliveries(created.id);
    expect(deliveries.data.map((d) => d.id)).toContain(delivery.id);
    const listed = [];
    for await (const d of pa.services.webhook.iterDeliveries(created.id)) listed.push(d.id);
    expect(listed).toContain(delivery.id);
    const retried = await pa.services.webhook.retryDelivery(created.id, delivery.id);
    expect(retried.id).toBe(delivery.id);
    await pa.services.webhook.deleteWebhook(created.id);
    await expect(pa.services.webhook.getWebhook(created.id)).rejects.toBeInstanceOf(NotFoundError);
  });

  it('reads the event log from a position and the health report', async () => {
    const { base, table } = await makeTable(pa);
    const head = (await pa.services.event.getEvents({ tableId: table.id })).next_since;
    const record = await pa.services.record.createRecord(table.id, { Name: 'evented' });
    const events = [];
    for await (const event of pa.services.event.iterEvents({ since: head, tableId: table.id }))
      events.push(event);
    expect(events.map((e) => [e.type, e.aggregate_id])).toEqual([['record.created', record.id]]);
    const updated = await pa.services.record.updateRecord(record.id, { Name: 'again' });
    const byRecord = await pa.services.event.getEvents({ since: head, aggregateId: record.id });
    expect(byRecord.data.map((e) => [e.type, e.version])).toEqual([
      ['record.created', 1],
      ['record.updated', updated.version],
    ]);
    const byBase = await pa.services.event.getEvents({ since: head, baseId: base.id });
    expect(byBase.data.map((e) => e.aggregate_id)).toEqual([record.id, record.id]);
    await expect(other.services.event.getEvents({ baseId: base.id })).rejects.toBeInstanceOf(
      NotFoundError,
    );
    expect((await pa.services.health.getHealth()).status).toBe('ok');
    expect((await pa.services.health.getServiceHealth('record')).status).toBe('ok');
    await expect(pa.services.health.getServiceHealth('nope')).rejects.toBeInstanceOf(NotFoundError);
  });
});
