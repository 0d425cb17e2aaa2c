import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NextConfig } from 'next';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '..', '..');

const config: NextConfig = {
  reactStrictMode: true,
  // The package's own node_modules serve the demo: one install, one lock file.
  turbopack: { root: pkg },
  poweredByHeader: false,
};

export default config;
