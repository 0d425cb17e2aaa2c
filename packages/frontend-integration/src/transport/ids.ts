/**
 * Resource ids, checked before they enter a URL path: the contract's prefixes (`rec`, `tbl`...)
 * followed by base62 characters. A wrong id fails here with `InvalidRequestError`, so nothing the
 * caller passes can walk the path (`../`), add a query, or reach another route.
 */
import { InvalidRequestError } from '../errors.js';

export type IdPrefix =
  | 'usr'
  | 'wsp'
  | 'bas'
  | 'tbl'
  | 'fld'
  | 'viw'
  | 'rec'
  | 'fil'
  | 'whk'
  | 'dlv'
  | 'evt';

const ID_BODY = /^[A-Za-z0-9]{1,64}$/;

/** `id`, after checking it is a `prefix` id; throws `InvalidRequestError` otherwise. */
export function checkId(prefix: IdPrefix, id: string, name = `${prefix} id`): string {
  if (typeof id !== 'string' || !id.startsWith(prefix) || !ID_BODY.test(id.slice(prefix.length))) {
    throw new InvalidRequestError(`${name} must be a "${prefix}…" id, got ${JSON.stringify(id)}.`, {
      code: null,
      details: { fields: { [name]: `expected a ${prefix} id` } },
    });
  }
  return encodeURIComponent(id);
}

/** A random identifier (UUID v4 hex) for request ids, idempotency keys and local ids. */
export function newId(): string {
  const bytes = new Uint8Array(16);
  globalThis.crypto.getRandomValues(bytes);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x40;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
}
