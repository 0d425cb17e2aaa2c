// POST /api/pyat/login, POST /api/pyat/logout, GET /api/pyat/token.
import { pyat } from '../../../../lib/pyat';

export const { GET, POST } = pyat.routes;
export const dynamic = 'force-dynamic';
