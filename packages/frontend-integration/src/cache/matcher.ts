/**
 * Filters and sorts evaluated on cached records with the reference backend's semantics (the
 * Python SDK's `cache/_matcher.py`): text compares ignoring case, select names exactly under
 * equals/not_equals/in; negative operators match empty cells and comparisons never do; array
 * fields read equals/contains as "has this element" and `in` as "has any". Sorting puts empty
 * cells first ascending and ends with creation order. What the client cannot reproduce exactly
 * (dates, computed fields, an unknown field) throws `Undecidable`: the caller invalidates the
 * list instead of guessing. Pure.
 */
const ARRAY_TYPES = new Set(['multiselect', 'attachment', 'reference']);
const TEXT_TYPES = new Set(['text', 'long_text', 'email', 'url', 'phone']);
const DECIDABLE = new Set([...TEXT_TYPES, ...ARRAY_TYPES, 'number', 'checkbox', 'select']);
const NEGATIVE = new Set(['not_equals', 'not_contains']);
const EXACT = new Set(['equals', 'not_equals', 'in']);

export class Undecidable extends Error {}

export interface FieldInfo {
  id: string;
  name: string;
  type: string;
}

export class Schema {
  private readonly byKey = new Map<string, FieldInfo>();
  constructor(fields: FieldInfo[]) {
    for (const info of fields) {
      this.byKey.set(info.id, info);
      this.byKey.set(info.name, info);
    }
  }
  resolve(nameOrId: string): FieldInfo {
    const info = this.byKey.get(nameOrId);
    if (info === undefined) throw new Undecidable(`unknown field ${nameOrId}`);
    return info;
  }
}

type Fields = { [name: string]: unknown };
export type FilterNode = {
  conjunction?: 'and' | 'or';
  conditions?: FilterNode[];
  field?: string;
  operator?: string;
  value?: unknown;
};

const isEmpty = (value: unknown): boolean =>
  value === null ||
  value === undefined ||
  value === '' ||
  (Array.isArray(value) && value.length === 0);

function elements(info: FieldInfo, value: unknown): string[] {
  if (isEmpty(value)) return [];
  const items = Array.isArray(value) ? value : [value];
  return items.map((item) =>
    info.type === 'attachment' && item !== null && typeof item === 'object'
      ? String((item as { id?: unknown }).id)
      : String(item),
  );
}

function toNumber(value: unknown): number {
  if (typeof value === 'boolean') throw new Undecidable('a boolean compared as a number');
  if (typeof value === 'number') return value;
  const parsed = Number(String(value).trim());
  if (String(value).trim() === '' || Number.isNaN(parsed))
    throw new Undecidable(`${String(value)} is not a number`);
  return parsed;
}

const text = (value: unknown): string =>
  typeof value === 'boolean' ? (value ? 'true' : 'false') : String(value);

function truthy(value: unknown): boolean {
  if (typeof value === 'string') {
    const lowered = value.trim().toLowerCase();
    if (['true', '1', 'yes', 'on', 'checked'].includes(lowered)) return true;
    if (['false', '0', 'no', 'off', ''].includes(lowered)) return false;
    throw new Undecidable(`${value} is not a checkbox value`);
  }
  return Boolean(value);
}

/** Whether a record with `fields` (keyed by name) passes the filter group. */
export function matches(
  fields: Fields,
  group: FilterNode | null | undefined,
  schema: Schema,
): boolean {
  const conditions = group?.conditions ?? [];
  if (conditions.length === 0) return true;
  const results = conditions.map((item) =>
    item.conditions ? matches(fields, item, schema) : condition(fields, item, schema),
  );
  return (group?.conjunction ?? 'and') === 'and' ? results.every(Boolean) : results.some(Boolean);
}

function condition(fields: Fields, node: FilterNode, schema: Schema): boolean {
  const info = schema.resolve(String(node.field));
  if (!DECIDABLE.has(info.type)) throw new Undecidable(`${info.name} is a ${info.type} field`);
  const operator = String(node.operator);
  const wanted = node.value;
  const value = fields[info.name];
  if (operator === 'is_empty' || operator === 'is_not_empty') {
    const empty = info.type === 'checkbox' ? !truthy(value) : isEmpty(value);
    return operator === 'is_empty' ? empty : !empty;
  }
  if (ARRAY_TYPES.has(info.type)) {
    const have = elements(info, value);
    if (operator === 'in')
      return ((wanted as unknown[]) ?? []).some((item) => have.includes(String(item)));
    const has = have.includes(String(wanted));
    return NEGATIVE.has(operator) ? !has : has;
  }
  if (info.type === 'checkbox') {
    const same = truthy(value) === truthy(wanted);
    return operator === 'equals' ? same : !same;
  }
  if (isEmpty(value)) return NEGATIVE.has(operator);
  const result = compare(info, operator, value, wanted);
  return NEGATIVE.has(operator) ? !result : result;
}

function compare(info: FieldInfo, operator: string, value: unknown, wanted: unknown): boolean {
  if (info.type === 'number') {
    if (['contains', 'not_contains', 'starts_with', 'ends_with'].includes(operator))
      throw new Undecidable('text operators on a number');
    const left = toNumber(value);
    if (operator === 'in') return (wanted as unknown[]).some((item) => left === toNumber(item));
    return ordered(operator, left, toNumber(wanted));
  }
  if (info.type === 'select' && EXACT.has(operator)) {
    if (operator === 'in') return (wanted as unknown[]).some((item) => text(value) === text(item));
    return text(value) === text(wanted);
  }
  const left = text(value).toLowerCase();
  if (operator === 'in')
    return (wanted as unknown[]).some((item) => left === text(item).toLowerCase());
  const right = text(wanted).toLowerCase();
  if (operator === 'contains' || operator === 'not_contains') return left.includes(right);
  if (operator === 'starts_with') return left.startsWith(right);
  if (operator === 'ends_with') return left.endsWith(right);
  return ordered(operator, left, right);
}

function ordered<T extends number | string>(operator: string, left: T, right: T): boolean {
  switch (operator) {
    case 'equals':
    case 'not_equals':
      return left === right;
    case 'greater_than':
      return left > right;
    case 'less_than':
      return left < right;
    case 'greater_equal':
      return left >= right;
    case 'less_equal':
      return left <= right;
    default:
      throw new Undecidable(`unsupported operator ${operator}`);
  }
}

type Part = { value: [number, number | string | boolean]; descending: boolean };

/** A comparator ordering records as the server sorts `sorts`, ties by creation order. */
export function comparator(
  sorts: { field: string; direction?: 'asc' | 'desc' }[] | undefined,
  schema: Schema,
): (
  a: { fields: Fields; created_at: string; id: string },
  b: { fields: Fields; created_at: string; id: string },
) => number {
  const specs: { info: FieldInfo; descending: boolean }[] = [];
  const seen = new Set<string>();
  for (const spec of sorts ?? []) {
    const info = schema.resolve(spec.field);
    if (seen.has(info.id)) continue;
    seen.add(info.id);
    if (!DECIDABLE.has(info.type))
      throw new Undecidable(`cannot sort a ${info.type} field like the server`);
    specs.push({ info, descending: spec.direction === 'desc' });
  }
  const lastDescending = specs.at(-1)?.descending ?? false;
  const key = (record: { fields: Fields }): Part[] =>
    specs.map(({ info, descending }) => ({
      value: sortValue(info, record.fields[info.name]),
      descending,
    }));
  return (a, b) => {
    const left = key(a);
    const right = key(b);
    for (let i = 0; i < left.length; i += 1) {
      const l = left[i];
      const r = right[i];
      if (l === undefined || r === undefined) continue;
      const order = cmp(l.value, r.value);
      if (order !== 0) return l.descending ? -order : order;
    }
    const creation = cmp([0, a.created_at], [0, b.created_at]) || cmp([0, a.id], [0, b.id]);
    return lastDescending ? -creation : creation;
  };
}

function cmp(a: [number, unknown], b: [number, unknown]): number {
  if (a[0] !== b[0]) return a[0] - b[0];
  const x = a[1] as number | string | boolean;
  const y = b[1] as number | string | boolean;
  return x < y ? -1 : x > y ? 1 : 0;
}

function sortValue(info: FieldInfo, value: unknown): [number, number | string | boolean] {
  if (info.type === 'number') return isEmpty(value) ? [0, 0] : [1, toNumber(value)];
  if (info.type === 'checkbox') return [1, truthy(value)];
  if (ARRAY_TYPES.has(info.type)) {
    const first: unknown = Array.isArray(value) ? value[0] : undefined;
    const named =
      first !== null && typeof first === 'object'
        ? (first as { filename?: unknown }).filename
        : first;
    return [1, named === undefined || named === null ? '' : text(named).toLowerCase()];
  }
  return [1, isEmpty(value) ? '' : text(value).toLowerCase()];
}
