import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Two cores: socket-heavy integration files interfere when run many at once.
    maxWorkers: 2,
  },
});
