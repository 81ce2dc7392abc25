import { defineConfig } from 'vitest/config';

// One project per tier (STYLE.md "Tests"). Integration and e2e files talk to real
// PostgreSQL/RabbitMQ and spawn binaries, so they run one file at a time.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
          fileParallelism: false,
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
      {
        test: {
          // Property-based fuzzing (fast-check) of parsers and encoders; ATTUNE_FUZZ_RUNS scales it.
          name: 'fuzz',
          include: ['test/fuzz/**/*.test.ts'],
          testTimeout: 600_000,
        },
      },
      {
        test: {
          // Faults, load and hostile input against the real agent, broker and a private PostgreSQL.
          name: 'reliability',
          include: ['test/reliability/**/*.test.ts'],
          testTimeout: 900_000,
          hookTimeout: 300_000,
          fileParallelism: false,
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 600_000,
          fileParallelism: false,
          globalSetup: ['test/support/global-setup.ts'],
        },
      },
    ],
  },
});
