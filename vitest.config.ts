import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/global-setup.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // PGlite and socket.io servers are heavy; two cores → two workers.
    maxWorkers: 2,
    typecheck: { enabled: false },
  },
});
