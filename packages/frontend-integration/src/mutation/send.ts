/**
 * Sending one record write with conflict resolution: the step shared by in-memory mutations and
 * the offline outbox's replay.
 *
 * The write carries its idempotency key (the transport reuses it on every retry, so a write
 * whose answer was lost is applied once) and `If-Match` when a version is expected. A 409 is
 * resolved by the strategy (`conflict.ts`): adopting the server's record ends the write
 * unapplied; a resend goes out with `If-Match` = the server's version under a key derived from
 * the first (`<key>.1`, `<key>.2`...), since it is another logical write (other version, maybe
 * other fields). After `MAX_CONFLICT_ROUNDS` conflicts in a row the last `ConflictError` is
 * thrown.
 */
import { ConflictError } from '../errors.js';
import type { RecordWriteOp } from '../services/base.js';
import type { RecordService } from '../services/records.js';
import type { AirtableRecord } from '../types/index.js';
import {
  type ConflictStrategy,
  type Fields,
  type Resolution,
  type Resolver,
  resolveConflict,
  resolveDeleteConflict,
} from './conflict.js';

export const MAX_CONFLICT_ROUNDS = 3;

/** One write as it is sent: everything needed to send it again after a reload. */
export type WriteOp = RecordWriteOp;

export interface SendOutcome {
  /** The record after the write (the server's, when its version won); null after a delete. */
  record: AirtableRecord | null;
  /** False when a conflict was resolved in the server's favour. */
  applied: boolean;
  /** The last conflict's resolution; null when there was none. */
  resolution: Resolution | null;
}

/**
 * Sends `op` through the record service, resolving conflicts by `strategy`.
 *
 * @throws ConflictError conflicts went on past `MAX_CONFLICT_ROUNDS`, or the 409 had no record.
 * @throws ServiceError whatever else the service throws (network, validation, permission...).
 */
export async function sendWrite(
  records: RecordService,
  op: WriteOp,
  strategy: ConflictStrategy,
  resolver?: Resolver,
): Promise<SendOutcome> {
  let fields = op.fields;
  let expected = op.expectedVersion;
  let base = op.baseFields;
  let resolution: Resolution | null = null;
  for (let round = 0; ; round += 1) {
    const key = round === 0 ? op.idempotencyKey : `${op.idempotencyKey}.${round}`;
    try {
      const record = await once(records, op, fields, expected, key);
      return { record, applied: true, resolution };
    } catch (error) {
      const current =
        error instanceof ConflictError ? (error.current as AirtableRecord | null) : null;
      // A 409 without the record as it is now (not a version conflict) is not resolved here.
      if (
        current === null ||
        typeof current.fields !== 'object' ||
        round + 1 >= MAX_CONFLICT_ROUNDS
      )
        throw error;
      resolution =
        op.kind === 'delete'
          ? resolveDeleteConflict(strategy)
          : resolveConflict(strategy, fields, base, current.fields, resolver);
      if (resolution.action === 'adoptServer')
        return { record: current, applied: false, resolution };
      fields = resolution.fields;
      expected = current.version;
      base = current.fields;
    }
  }
}

function once(
  records: RecordService,
  op: WriteOp,
  fields: Fields,
  expected: number | null,
  idempotencyKey: string,
): Promise<AirtableRecord | null> {
  const options = {
    idempotencyKey,
    ...(expected === null ? {} : { expectedVersion: expected }),
    ...(op.typecast === undefined ? {} : { typecast: op.typecast }),
  };
  switch (op.kind) {
    case 'create':
      return records.createRecord(op.tableId, fields, options);
    case 'update':
      return records.updateRecord(String(op.recordId), fields, options);
    case 'replace':
      return records.replaceRecord(String(op.recordId), fields, options);
    case 'delete':
      return records
        .deleteRecord(String(op.recordId), { ...options, tableId: op.tableId })
        .then(() => null);
  }
}
