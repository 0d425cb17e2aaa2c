/** Answers in the contract's error envelope (`{error: {type, message}, request_id}`). */
export function errorEnvelope(status: number, type: string, message: string): Response {
  return new Response(JSON.stringify({ error: { type, message }, request_id: null }), {
    status,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' },
  });
}
