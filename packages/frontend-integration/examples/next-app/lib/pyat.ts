// The app's one session object (server only): the backend's address, the cookie's secret.
import { createPyAirtableNext } from '@pyairtable/frontend-integration/next';

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`The demo needs ${name} in its environment.`);
  return value;
}

export const pyat = createPyAirtableNext({
  apiURL: required('PYAT_API_URL'),
  secret: required('PYAT_SESSION_SECRET'),
});

/** The backend's address as the browser reaches it (the same as the server's, for the demo). */
export const browserAPIURL = process.env.PYAT_BROWSER_API_URL ?? required('PYAT_API_URL');
