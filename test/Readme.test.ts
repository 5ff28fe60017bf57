/**
 * The README must match the code: every setting the code reads is in the
 * settings table with its flag, and every flag the CLI has is documented.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { settings } from "../src/cli/Cli.js"

const repo = fileURLToPath(new URL("..", import.meta.url))
const readme = fs.readFileSync(path.join(repo, "README.md"), "utf8")

/** Every `"EVENT_VACUUM_…"` / `"HONEYCOMB_…"` key named in src. */
const keysInSource = (): Set<string> => {
  const keys = new Set<string>()
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name)
      if (entry.isDirectory()) walk(file)
      else if (file.endsWith(".ts")) {
        for (const m of fs.readFileSync(file, "utf8").matchAll(/"((?:EVENT_VACUUM|HONEYCOMB|KINESIS|OTLP|OTEL)_[A-Z_]*[A-Z])"/g)) keys.add(m[1]!)
      }
    }
  }
  walk(path.join(repo, "src"))
  return keys
}

describe("README", () => {
  it("starts with the two commands for a fresh machine", () => {
    const block = /```sh\n([^`]*)```/.exec(readme)
    assert.isNotNull(block)
    assert.deepStrictEqual(block![1]!.trim().split("\n"), [
      "npm ci && npm run build && node dist/cli/bin.js run examples/aos-token-evaluations.ndjson",
      "npm test"
    ])
  })

  it("has every setting the code reads in its table, with the flag the CLI takes and the declared default", () => {
    const table = new Map<string, { flag: string; fallback: string }>()
    for (const m of readme.matchAll(/^\| `([A-Z_]+)` \| `--([a-z-]+)` \| ([^|]*) \|/gm)) {
      table.set(m[1]!, { flag: m[2]!, fallback: m[3]!.trim() })
    }
    for (const key of keysInSource()) assert.isTrue(table.has(key), `${key} is read in src but not in the README's table`)
    for (const s of settings) {
      const row = table.get(s.env)
      assert.isDefined(row, `${s.env} is declared but not in the README's table`)
      assert.strictEqual(row!.flag, s.flag, `${s.env}: README flag`)
      if (s.shown === undefined) assert.match(row!.fallback, /^\(required/, `${s.env}: README default`)
      else assert.isTrue(row!.fallback.startsWith(`\`${s.shown}\``), `${s.env}: README default ${row!.fallback}, declared ${s.shown}`)
    }
    assert.strictEqual(table.size, settings.length)
    assert.strictEqual(new Set(settings.map((s) => s.env)).size, settings.length, "an env key declared twice")
  })
})
