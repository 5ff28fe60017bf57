/**
 * The package root loads only what is light: importing it (say, for the
 * extractor) must not load a database driver or an HTTP client. Checked in a
 * real process that records every module it resolves.
 */
import { assert, describe, it } from "@effect/vitest"
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"

const repo = fileURLToPath(new URL("..", import.meta.url))

/** Every module URL a fresh node resolves while importing `entry` (a file under src/). */
const modulesLoadedBy = (entry: string): Array<string> => {
  const record = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-loads-")), "loads.txt")
  const r = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      "--import",
      path.join(repo, "test/support/load-recorder.mjs"),
      "--input-type=module",
      "-e",
      `await import(${JSON.stringify(path.join(repo, entry))})`
    ],
    { cwd: repo, env: { ...process.env, LOAD_RECORD: record }, encoding: "utf8" }
  )
  assert.strictEqual(r.status, 0, r.stderr)
  return fs.readFileSync(record, "utf8").split("\n").filter((l) => l.length > 0)
}

const heavy = ["better-sqlite3", "@effect/sql-sqlite-node", "undici", "@effect/platform-node"]

describe("the package root", () => {
  it("loads no database driver and no HTTP client", { timeout: 60_000 }, () => {
    const loaded = modulesLoadedBy("src/index.ts")
    assert.isTrue(loaded.some((url) => url.endsWith("/src/Extractor.ts")), "the recorder saw the root's own modules")
    for (const name of heavy) {
      const found = loaded.filter((url) => url.includes(`/node_modules/${name}/`))
      assert.deepStrictEqual(found, [], `${name} is loaded by the root`)
    }
  })

  it("the backends' subpaths do load them (the check can see them)", { timeout: 60_000 }, () => {
    const loaded = modulesLoadedBy("src/DedupeStore/Sqlite.ts").concat(modulesLoadedBy("src/Transport/Honeycomb.ts"))
    for (const name of ["better-sqlite3", "undici"]) {
      assert.isTrue(loaded.some((url) => url.includes(`/node_modules/${name}/`)), `${name} not seen`)
    }
  })
})
