/**
 * A PostgreSQL cluster of the test's own, made with the machine's
 * `pg_createcluster` on a free port of 127.0.0.1 (trust authentication), so
 * that a test can restart it with `pg_ctlcluster ... restart` without
 * touching the machine's cluster, which the other tests use at the same
 * time. `drop` stops and removes it.
 */
import { execFile } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { freePort } from "./ports.js"

const run = (command: string, args: ReadonlyArray<string>): Promise<string> =>
  new Promise((resolve, reject) => {
    execFile(command, args, { encoding: "utf8" }, (error, stdout, stderr) =>
      error === null ? resolve(stdout) : reject(new Error(`${command} ${args.join(" ")}: ${stderr || error.message}`)))
  })


export interface Cluster {
  readonly port: number
  /** A URL of the database `db` on it. */
  readonly url: (db?: string) => string
  /** One statement through `psql` on it. */
  readonly psql: (statement: string, db?: string) => Promise<string>
  /**
   * `pg_ctlcluster <version> <name> restart` (every session ends; down for a
   * moment), or, given `downFor`, `stop`, that long down, then `start`.
   * Answers once it takes connections again.
   */
  readonly restart: (downFor?: number) => Promise<void>
  readonly drop: () => Promise<void>
}

export const startCluster = async (): Promise<Cluster> => {
  const version = fs.readdirSync("/usr/lib/postgresql").sort().at(-1)!
  const name = `event_vacuum_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-pg-"))
  fs.chmodSync(dir, 0o755)
  const port = await freePort()
  const psql = (statement: string, db = "postgres") =>
    run("psql", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-Atc", statement])
  const drop = async () => {
    await run("pg_dropcluster", ["--stop", version, name]).catch(() => undefined)
    fs.rmSync(dir, { recursive: true, force: true })
  }
  try {
    await run("pg_createcluster", [
      version, name, "-p", String(port), "-d", path.join(dir, "data"), "--start-conf=manual",
      "--", "--auth-host=trust", "--auth-local=trust"
    ])
    // Only on 127.0.0.1 (the last setting in the file wins).
    fs.appendFileSync(`/etc/postgresql/${version}/${name}/postgresql.conf`, "\nlisten_addresses = '127.0.0.1'\n")
    await run("pg_ctlcluster", [version, name, "start"])
    await psql("SELECT 1")
  } catch (error) {
    await drop()
    throw error
  }
  return {
    port,
    url: (db = "postgres") => `postgres://postgres@127.0.0.1:${port}/${db}`,
    psql,
    restart: async (downFor) => {
      if (downFor === undefined) await run("pg_ctlcluster", [version, name, "restart"])
      else {
        await run("pg_ctlcluster", [version, name, "stop"])
        await new Promise((resolve) => setTimeout(resolve, downFor))
        await run("pg_ctlcluster", [version, name, "start"])
      }
      await psql("SELECT 1")
    },
    drop
  }
}
