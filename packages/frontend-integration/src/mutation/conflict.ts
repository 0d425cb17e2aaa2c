/**
 * Resolving a write conflict (a 409 on `If-Match`): pure functions, no I/O. The Python SDK's
 * `optimistic/_conflict.py`, in camelCase.
 *
 * Three inputs describe a conflict: the *local change* (the fields this client wrote), the
 * *base* (the record's fields as the user saw them when editing) and *current* (the fields the
 * server holds now, from `ConflictError.current`). A strategy turns them into a `Resolution`:
 * adopt the server's record, or resend a set of fields with `If-Match` = the current version.
 *
 * - `serverWins`: drop the local change and adopt the server's record.
 * - `clientWins`: resend the local change over whatever the server holds.
 * - `merge`: the fields the server changed since the base are found by comparing base and
 *   current; when the local change touches none of them (or set them to the same values), the
 *   local change is resent on top. When both changed one field differently, the `resolver`
 *   decides; without one the server wins and the conflicting fields are reported.
 * - a function `(localChange, base, current) => fields | null`: its fields are resent; null
 *   adopts the server's record.
 */
export type Fields = { [field: string]: unknown };

/** `(localChange, base, current) => fields to resend`, or null to adopt the server's record. */
export type Resolver = (localChange: Fields, base: Fields | null, current: Fields) => Fields | null;
export type StrategyName = 'serverWins' | 'clientWins' | 'merge';
export type ConflictStrategy = StrategyName | Resolver;
export const STRATEGIES: readonly StrategyName[] = ['serverWins', 'clientWins', 'merge'];

export interface Resolution {
  /** `resend` the fields with `If-Match` = the current version, or `adoptServer`. */
  action: 'resend' | 'adoptServer';
  /** The rule that decided: `serverWins`, `clientWins`, `merge`, `resolver` or `custom`. */
  decidedBy: string;
  fields: Fields;
  /** The fields both sides changed to different values (what `merge` could not combine). */
  conflicting: string[];
}

const ABSENT = Symbol('absent');

function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The fields whose value differs between `base` and `current`, with current's values; a field
 * removed on the server maps to null. Without a base every field of `current` counts as changed.
 */
export function serverChanges(base: Fields | null, current: Fields): Fields {
  if (base === null) return { ...current };
  const changed: Fields = {};
  for (const [name, value] of Object.entries(current)) {
    if (!same(name in base ? base[name] : ABSENT, value)) changed[name] = value;
  }
  for (const name of Object.keys(base)) if (!(name in current)) changed[name] = null;
  return changed;
}

/** The fields the local change sets that the server also changed, to a different value. */
export function conflictingFields(local: Fields, base: Fields | null, current: Fields): string[] {
  const changed = serverChanges(base, current);
  return Object.keys(local)
    .filter((name) => name in changed && !same(changed[name], local[name]))
    .sort();
}

/**
 * Decides a conflict on a field write by `strategy` (see the module docstring).
 *
 * @throws TypeError `strategy` is neither a known name nor a function.
 */
export function resolveConflict(
  strategy: ConflictStrategy,
  local: Fields,
  base: Fields | null,
  current: Fields,
  resolver?: Resolver,
): Resolution {
  if (typeof strategy === 'function') return fromFunction(strategy, 'custom', local, base, current);
  if (strategy === 'serverWins')
    return { action: 'adoptServer', decidedBy: 'serverWins', fields: {}, conflicting: [] };
  if (strategy === 'clientWins')
    return { action: 'resend', decidedBy: 'clientWins', fields: { ...local }, conflicting: [] };
  if (strategy === 'merge') {
    const conflicting = conflictingFields(local, base, current);
    if (conflicting.length === 0)
      return { action: 'resend', decidedBy: 'merge', fields: { ...local }, conflicting };
    if (resolver !== undefined)
      return { ...fromFunction(resolver, 'resolver', local, base, current), conflicting };
    return { action: 'adoptServer', decidedBy: 'serverWins', fields: {}, conflicting };
  }
  throw new TypeError(`Unknown conflict strategy ${JSON.stringify(strategy)}.`);
}

/**
 * Decides a conflict on a delete: only `clientWins` deletes the changed record anyway (a delete
 * has no fields to combine, and deleting a record someone changed unseen would lose their work).
 */
export function resolveDeleteConflict(strategy: ConflictStrategy): Resolution {
  if (strategy === 'clientWins')
    return { action: 'resend', decidedBy: 'clientWins', fields: {}, conflicting: [] };
  return {
    action: 'adoptServer',
    decidedBy: typeof strategy === 'function' ? 'custom' : 'serverWins',
    fields: {},
    conflicting: [],
  };
}

function fromFunction(
  decide: Resolver,
  name: string,
  local: Fields,
  base: Fields | null,
  current: Fields,
): Resolution {
  const fields = decide({ ...local }, base === null ? null : { ...base }, { ...current });
  return fields === null
    ? { action: 'adoptServer', decidedBy: name, fields: {}, conflicting: [] }
    : { action: 'resend', decidedBy: name, fields: { ...fields }, conflicting: [] };
}
