'use client';
// The table's grid: inline edits, add and delete rows, sort and filter, the conflict dialog.
import {
  type AirtableRecord,
  ErrorHandler,
  type FilterGroup,
  OfflineError,
  type RecordQuery,
} from '@pyairtable/frontend-integration';
import {
  PyAirtableErrorBoundary,
  usePyAirtable,
  useRecords,
  useTable,
} from '@pyairtable/frontend-integration/react';
import { useState } from 'react';

/** The first page as the server prefetches it (no sort or filter chosen yet). */
export const INITIAL_QUERY: RecordQuery = { pageSize: 100 };

interface Conflict {
  record: AirtableRecord;
  field: string;
  mine: unknown;
  theirs: unknown;
  version: number;
}

export function Grid({ tableId }: { tableId: string }) {
  return (
    <PyAirtableErrorBoundary>
      <GridBody tableId={tableId} />
    </PyAirtableErrorBoundary>
  );
}

function GridBody({ tableId }: { tableId: string }) {
  const pa = usePyAirtable();
  const table = useTable(tableId, { throwOnError: true });
  const [sortField, setSortField] = useState('');
  const [descending, setDescending] = useState(false);
  const [search, setSearch] = useState('');
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const [error, setError] = useState<string | null>(null);
  const fields = table.data?.fields ?? [];
  const primary = fields[0]?.name;
  const query: RecordQuery = { ...INITIAL_QUERY };
  if (sortField) query.sort = [{ field: sortField, direction: descending ? 'desc' : 'asc' }];
  if (search && primary) {
    query.filter = {
      conjunction: 'and',
      conditions: [{ field: primary, operator: 'contains', value: search }],
    } satisfies FilterGroup;
  }
  const records = useRecords(tableId, query, { throwOnError: true });

  /**
   * Writes `value` against the version the user saw when editing began (`baseVersion`): shown at
   * once, queued in the outbox while offline. When someone else changed the same field meanwhile,
   * the server's value stays and the conflict dialog asks which one to keep.
   */
  async function save(
    record: AirtableRecord,
    field: string,
    value: unknown,
    baseVersion: number,
    original: string,
  ) {
    setError(null);
    const now = record.fields[field];
    if ((now === null || now === undefined ? '' : String(now)) !== original) {
      // Someone changed this very cell while it was being edited here.
      setConflict({ record, field, mine: value, theirs: now, version: record.version });
      return;
    }
    try {
      const result = await pa.mutate(
        { kind: 'update', recordId: record.id, tableId, fields: { [field]: value } },
        { expectedVersion: baseVersion, onConflict: 'merge', typecast: true },
      );
      if (!result.applied && result.resolution?.conflicting.includes(field) && result.record) {
        setConflict({
          record: result.record,
          field,
          mine: value,
          theirs: result.record.fields[field],
          version: result.record.version,
        });
      }
    } catch (failure) {
      if (failure instanceof OfflineError) return; // queued: sent when the network is back
      setError(ErrorHandler.getErrorMessage(failure));
    }
  }

  async function resolve(keepMine: boolean) {
    const open = conflict;
    setConflict(null);
    if (open === null || !keepMine) return;
    await pa
      .mutate(
        { kind: 'update', recordId: open.record.id, tableId, fields: { [open.field]: open.mine } },
        { expectedVersion: open.version, onConflict: 'clientWins', typecast: true },
      )
      .catch((failure: unknown) => {
        if (!(failure instanceof OfflineError)) setError(ErrorHandler.getErrorMessage(failure));
      });
  }

  function write(change: Parameters<typeof pa.mutate>[0]) {
    pa.mutate(change).catch((failure: unknown) => {
      if (!(failure instanceof OfflineError)) setError(ErrorHandler.getErrorMessage(failure));
    });
  }

  return (
    <section>
      <h1>{table.data?.name ?? '…'}</h1>
      <div className="toolbar">
        <input
          aria-label="Filter"
          placeholder={primary ? `${primary} contains…` : 'Filter'}
          value={search}
          onChange={(event) => setSearch(event.target.value)}
        />
        <select
          aria-label="Sort by"
          value={sortField}
          onChange={(event) => setSortField(event.target.value)}
        >
          <option value="">No sort</option>
          {fields.map((field) => (
            <option key={field.id} value={field.name}>
              {field.name}
            </option>
          ))}
        </select>
        <label>
          <input
            type="checkbox"
            checked={descending}
            onChange={(event) => setDescending(event.target.checked)}
          />{' '}
          descending
        </label>
        <button
          type="button"
          onClick={() =>
            write({ kind: 'create', tableId, fields: primary ? { [primary]: 'New row' } : {} })
          }
        >
          Add row
        </button>
      </div>
      {error && <p role="alert">{error}</p>}
      <table>
        <thead>
          <tr>
            {fields.map((field) => (
              <th key={field.id}>{field.name}</th>
            ))}
            <th />
          </tr>
        </thead>
        <tbody>
          {records.data?.data.map((record) => (
            <tr key={record.id} data-record={record.id}>
              {fields.map((field) => (
                <td key={field.id}>
                  <Cell
                    label={`${field.name} of ${String(record.fields[primary ?? ''] ?? record.id)}`}
                    value={record.fields[field.name]}
                    version={record.version}
                    onCommit={(value, base, original) =>
                      save(record, field.name, value, base, original)
                    }
                  />
                </td>
              ))}
              <td>
                <button
                  type="button"
                  aria-label={`Delete ${String(record.fields[primary ?? ''] ?? record.id)}`}
                  onClick={() => write({ kind: 'delete', recordId: record.id, tableId })}
                >
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {conflict && (
        <dialog open aria-label="Conflict">
          <p>
            Someone else changed <b>{conflict.field}</b> to “{String(conflict.theirs ?? '')}” while
            you wrote “{String(conflict.mine ?? '')}”.
          </p>
          <button type="button" onClick={() => resolve(true)}>
            Keep mine
          </button>
          <button type="button" onClick={() => resolve(false)}>
            Take theirs
          </button>
        </dialog>
      )}
    </section>
  );
}

/**
 * A cell edited in place: committed on Enter or when it loses focus, against the version the
 * record had when editing began (so a change someone made meanwhile is a conflict, not lost).
 */
function Cell({
  label,
  value,
  version,
  onCommit,
}: {
  label: string;
  value: unknown;
  version: number;
  onCommit: (value: unknown, baseVersion: number, original: string) => void;
}) {
  const shown = value === null || value === undefined ? '' : String(value);
  const [draft, setDraft] = useState<{ text: string; original: string; base: number } | null>(null);
  return (
    <input
      aria-label={label}
      value={draft?.text ?? shown}
      onFocus={() => setDraft({ text: shown, original: shown, base: version })}
      onChange={(event) =>
        setDraft({
          text: event.target.value,
          original: draft?.original ?? shown,
          base: draft?.base ?? version,
        })
      }
      onKeyDown={(event) => {
        if (event.key === 'Enter') event.currentTarget.blur();
        if (event.key === 'Escape') setDraft(null);
      }}
      onBlur={() => {
        if (draft !== null && draft.text !== draft.original) {
          const text = draft.text;
          const numeric = typeof value === 'number' && text.trim() !== '' ? Number(text) : text;
          onCommit(Number.isNaN(numeric) ? text : numeric, draft.base, draft.original);
        }
        setDraft(null);
      }}
    />
  );
}
