// Next.js has no `exports` map, so NodeNext resolution finds its entry points only with `.js`;
// Next's bundler expects the bare names. These declarations give the bare names their types.
// Nothing public mentions a Next type (the package's own types resolve without Next).
declare module 'next/headers' {
  export { cookies } from 'next/headers.js';
}
declare module 'next/server' {
  export { NextResponse } from 'next/server.js';
}
