/**
 * Vitest's global setup: builds the package (`npm run build`: the compiler,
 * and the OTLP schema beside the modules) once before the tests, so that the
 * CLI tests run the real binary, `node dist/cli/bin.js`, as users do.
 */
import { execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"

const repo = fileURLToPath(new URL("../..", import.meta.url))

export default function setup(): void {
  execFileSync("npm", ["run", "--silent", "build"], { cwd: repo, stdio: "inherit" })
}
