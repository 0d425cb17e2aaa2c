'use client';
import { useBases, useTables, useWorkspaces } from '@pyairtable/frontend-integration/react';
import Link from 'next/link';
import { useState } from 'react';

export function Picker() {
  const workspaces = useWorkspaces();
  const [workspaceId, setWorkspaceId] = useState<string | null>(null);
  const [baseId, setBaseId] = useState<string | null>(null);
  const bases = useBases(workspaceId);
  const tables = useTables(baseId);
  return (
    <div className="toolbar">
      <label>
        Workspace{' '}
        <select
          aria-label="Workspace"
          value={workspaceId ?? ''}
          onChange={(event) => {
            setWorkspaceId(event.target.value || null);
            setBaseId(null);
          }}
        >
          <option value="">Choose…</option>
          {workspaces.data?.data.map((workspace) => (
            <option key={workspace.id} value={workspace.id}>
              {workspace.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        Base{' '}
        <select
          aria-label="Base"
          value={baseId ?? ''}
          onChange={(event) => setBaseId(event.target.value || null)}
          disabled={!workspaceId}
        >
          <option value="">Choose…</option>
          {bases.data?.data.map((base) => (
            <option key={base.id} value={base.id}>
              {base.name}
            </option>
          ))}
        </select>
      </label>
      <nav aria-label="Tables">
        {tables.data?.data.map((table) => (
          <Link key={table.id} href={`/t/${table.id}`} style={{ marginRight: '.75rem' }}>
            {table.name}
          </Link>
        ))}
      </nav>
    </div>
  );
}
