import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2,
    // Decides whether the real Kafka broker can run, and stops the brokers test files started (test/brokers/kafka).
    globalSetup: ['test/brokers/kafka/global-setup.ts'],
  },
});
