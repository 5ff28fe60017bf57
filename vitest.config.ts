import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The CLI tests run the built binary: build it once first.
    globalSetup: ["test/support/build.ts"],
    testTimeout: 30_000
  }
})
