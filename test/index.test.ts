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
const modulesLoadedBy = (entry: string): Array<string> => modulesLoadedRunning(`await import(${JSON.stringify(path.join(repo, entry))})`)

/** Every module URL a fresh node resolves while running `code` (with `args` as the command line's words). */
const modulesLoadedRunning = (code: string, args: ReadonlyArray<string> = [], status = 0): Array<string> => {
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
      code,
      "--",
      ...args
    ],
    { cwd: repo, env: { ...process.env, LOAD_RECORD: record }, encoding: "utf8" }
  )
  assert.strictEqual(r.status, status, r.stderr)
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

/** What loads the vacuum: its modules, the schema interpreter, a database driver, the platform. */
const vacuumModules = (loaded: ReadonlyArray<string>) =>
  loaded.filter((url) =>
    ["/src/Vacuum.ts", "/src/Extractor.ts", "/src/Env.ts", "/src/internal/adapter.ts"].some((m) => url.endsWith(m)) ||
    ["/node_modules/effect/dist/esm/Schema.js", ...heavy.map((name) => `/node_modules/${name}/`)].some((m) => url.includes(m))
  )

describe("what costs next to nothing loads next to nothing", () => {
  it("a disabled adapter loads none of the vacuum, and answers disabled", { timeout: 60_000 }, () => {
    const adapter = JSON.stringify(path.join(repo, "src/Adapter.ts"))
    const loaded = modulesLoadedRunning(
      `const { createVacuum } = await import(${adapter})
       const v = await createVacuum({ env: { EVENT_VACUUM_ENABLED: "false" } })
       if (v.vacuum({}).outcome !== "disabled") throw new Error("not disabled")
       await v.close()`
    )
    assert.isTrue(loaded.some((url) => url.endsWith("/src/Adapter.ts")), "the recorder saw the adapter")
    assert.deepStrictEqual(vacuumModules(loaded), [])
  })

  it("an enabled one loads the vacuum; on its own thread (the default), the caller's thread loads no driver and no HTTP client", { timeout: 60_000 }, () => {
    const adapter = JSON.stringify(path.join(repo, "src/Adapter.ts"))
    const started = (thread: string) =>
      modulesLoadedRunning(
        `const { createVacuum } = await import(${adapter})
         const v = await createVacuum({ env: { EVENT_VACUUM_ENABLED: "true", EVENT_VACUUM_STATE_PATH: ":memory:", EVENT_VACUUM_THREAD: "${thread}" } })
         const s = await v.snapshot()
         if (s.sinks.length !== 1 || s.sinks[0].name !== "console") throw new Error("no console sink: " + JSON.stringify(s.sinks))
         await v.close()`
      )
    // The store and the console sink run on the vacuum's thread: their modules load there, not here.
    const worker = started("worker")
    assert.isTrue(worker.some((url) => url.endsWith("/src/Vacuum.ts")))
    for (const name of [...heavy, "@effect/sql-pg", "@aws-sdk/client-kinesis", "protobufjs"]) {
      assert.deepStrictEqual(worker.filter((url) => url.includes(`/node_modules/${name}/`)), [], `${name} is loaded on the caller's thread`)
    }
    assert.deepStrictEqual(worker.filter((url) => /\/src\/(DedupeStore\/|Transport\/(Console|File|Honeycomb|Kinesis|Otlp)\.ts)/.test(url)), [])
    // On the caller's thread, they load here (the check can see them).
    const caller = started("caller")
    assert.isTrue(caller.some((url) => url.includes("/node_modules/better-sqlite3/")))
    assert.isTrue(caller.some((url) => url.endsWith("/src/Transport/Console.ts")))
  })

  it("the CLI's --help and a bad command line load none of the vacuum", { timeout: 60_000 }, () => {
    const bin = JSON.stringify(path.join(repo, "src/cli/bin.ts"))
    for (const [args, status] of [[["--help"], 0], [["run", "--help"], 0], [["run", "--bogus"], 2]] as const) {
      // As node runs the bin: its words after the script's path.
      const loaded = modulesLoadedRunning(`process.argv.splice(1, 0, "event-vacuum"); await import(${bin})`, args, status)
      assert.isTrue(loaded.some((url) => url.endsWith("/src/cli/args.ts")), args.join(" "))
      assert.deepStrictEqual(vacuumModules(loaded), [], args.join(" "))
    }
  })
})
