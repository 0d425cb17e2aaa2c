/**
 * The session cookie: the token pair and the user, encrypted (a `jose` JWE, `dir` + A256GCM,
 * keyed by SHA-256 of the app's secret) so the browser holds it but can read nothing in it,
 * sent only as `HttpOnly; Secure; SameSite=Lax`. The refresh token never leaves the server in
 * any other form.
 */
import { EncryptJWT, jwtDecrypt } from 'jose';
import type { User } from '../types/index.js';

/** What the cookie holds. `csrf` is the synchronizer token state-changing routes compare. */
export interface SessionData {
  accessToken: string;
  refreshToken: string;
  /** When the access token expires (ms epoch). */
  expiresAt: number;
  user: User;
  csrf: string;
}

export interface CookieOptions {
  name: string;
  /** Seconds the browser keeps the cookie (the refresh token's lifetime at most). */
  maxAge: number;
  secure: boolean;
}

const keys = new Map<string, Promise<Uint8Array>>();

function keyFor(secret: string): Promise<Uint8Array> {
  let key = keys.get(secret);
  if (key === undefined) {
    key = crypto.subtle
      .digest('SHA-256', new TextEncoder().encode(secret))
      .then((digest) => new Uint8Array(digest));
    keys.set(secret, key);
  }
  return key;
}

/** The session as the cookie's value (a compact JWE). */
export async function sealSession(
  session: SessionData,
  secret: string,
  maxAge: number,
): Promise<string> {
  return new EncryptJWT({ s: session })
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM' })
    .setIssuedAt()
    .setExpirationTime(`${maxAge}s`)
    .encrypt(await keyFor(secret));
}

/** The session in a cookie value, or null when it is missing, tampered with, expired or foreign. */
export async function openSession(
  value: string | undefined,
  secret: string,
): Promise<SessionData | null> {
  if (!value) return null;
  try {
    const { payload } = await jwtDecrypt(value, await keyFor(secret));
    const session = payload.s as SessionData | undefined;
    if (!session || typeof session.refreshToken !== 'string') return null;
    return session;
  } catch {
    return null;
  }
}

/** A `Set-Cookie` header value writing (or, with null, deleting) the session cookie. */
export function serializeCookie(options: CookieOptions, value: string | null): string {
  const parts = [
    `${options.name}=${value ?? ''}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Lax',
    `Max-Age=${value === null ? 0 : options.maxAge}`,
  ];
  if (options.secure) parts.push('Secure');
  return parts.join('; ');
}

/** The value of cookie `name` in a `Cookie` request header. */
export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at < 0) continue;
    if (part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}

/** A `Cookie` request header with cookie `name` set to `value` (removed with null). */
export function replaceCookie(header: string | null, name: string, value: string | null): string {
  const others = (header ?? '')
    .split(';')
    .map((part) => part.trim())
    .filter((part) => part !== '' && part.slice(0, part.indexOf('=')).trim() !== name);
  if (value !== null) others.push(`${name}=${value}`);
  return others.join('; ');
}

/** A random token (base64url), for CSRF. */
export function randomToken(bytes = 32): string {
  const buffer = crypto.getRandomValues(new Uint8Array(bytes));
  let text = '';
  for (const byte of buffer) text += String.fromCharCode(byte);
  return btoa(text).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

/** Compares two strings in time independent of where they differ. */
export function safeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i += 1) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
