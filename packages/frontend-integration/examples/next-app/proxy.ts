// Refreshes the session before a page renders, so Server Components never need to.
import { pyat } from './lib/pyat';

export const proxy = pyat.proxy;

export const config = { matcher: ['/((?!api/|_next/|favicon.ico).*)'] };
