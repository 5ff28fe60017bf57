/**
 * Vitest's global setup: builds the package (`tsc -p src`, as `npm run
 * build` does) once before the tests, so that the CLI tests run the real
 * binary, `node dist/cli/bin.js`, as users do.
 */
import { execFileSync } from "node:child_process"
import { createRequire } from "node:module"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const repo = fileURLToPath(new URL("../..", import.meta.url))

export default function setup(): void {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc")
  execFileSync(process.execPath, [tsc, "-p", path.join(repo, "src")], { cwd: repo, stdio: "inherit" })
}
