/** Tokens, passwords and secrets taken out of what debug logging prints. */
const SECRET_KEYS = /(password|token|secret|authorization|refresh_token|access_token)/i;

/** `url` with secret query values replaced by `***`. */
export function redactURL(url: string): string {
  return url.replace(/([?&][^=&]*(?:token|secret|password)[^=&]*=)[^&#]*/gi, '$1***');
}

const MAX_DECODED = 64 * 1024;

/**
 * A JSON (or text) body with secret values replaced by `***`; bytes that hold JSON are read as
 * JSON, other binary bodies (uploads) are summarised.
 */
export function redactBody(body: unknown): string {
  if (body === null || body === undefined || body === '') return '';
  if ((body instanceof ArrayBuffer || ArrayBuffer.isView(body)) && body.byteLength <= MAX_DECODED) {
    const text = new TextDecoder().decode(body);
    try {
      JSON.parse(text);
      return redactBody(text);
    } catch {
      return `<${body.byteLength} bytes>`;
    }
  }
  if (typeof body !== 'string') return `<${Object.prototype.toString.call(body).slice(8, -1)}>`;
  try {
    return JSON.stringify(JSON.parse(body), (key, value: unknown) =>
      key !== '' && SECRET_KEYS.test(key) ? '***' : value,
    );
  } catch {
    return body.length > 200 ? `${body.slice(0, 200)}…` : body;
  }
}
