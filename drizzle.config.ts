import { defineConfig } from 'drizzle-kit';

export default defineConfig({
  dialect: 'postgresql',
  schema: './integrations/storage/schema.ts',
  out: './integrations/storage/migrations',
});
