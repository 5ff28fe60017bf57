/**
 * Secrets: the AWS credentials of the Kinesis sink never show. The CLI runs
 * into a local Kinesis as an operator runs it (credentials from the
 * standard AWS variables), through a throttled request, a dropped
 * connection, expired credentials and refused ones, with verbose logs; then
 * everything it said, `status`, `dead-letters list` and the state file
 * (database, WAL and shared memory) are searched for the secret key and the
 * session token.
 */
import { assert, describe, it } from "@effect/vitest"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { cli, copiesOfExample } from "../support/guarantees.js"
import { startKinesalite, startKinesisProxy } from "../support/kinesis.js"

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETSECRET"
const TOKEN = "FwoGZXIvYXdzEXAMPLESESSIONTOKENtokenTOKENtoken"

describe("secrets: the Kinesis sink's AWS credentials", () => {
  it("never appear in logs, errors, summaries, the status, dead letters or the state file", { timeout: 120_000 }, async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "event-vacuum-ksecrets-"))
    const kinesis = await startKinesalite()
    await kinesis.createStream("secrets", 2)
    const proxy = await startKinesisProxy(kinesis)
    try {
      const input = path.join(dir, "in.ndjson")
      fs.writeFileSync(input, copiesOfExample(1).map((r) => JSON.stringify(r)).join("\n"))
      const state = path.join(dir, "state.db")
      const env = {
        EVENT_VACUUM_TRANSPORTS: "kinesis",
        EVENT_VACUUM_STATE_PATH: state,
        EVENT_VACUUM_FLUSH_INTERVAL: "10 millis",
        EVENT_VACUUM_RETRY_BASE_DELAY: "10 millis",
        EVENT_VACUUM_RETRY_MAX_DELAY: "50 millis",
        KINESIS_STREAM_NAME: "secrets",
        KINESIS_ENDPOINT: proxy.endpoint,
        KINESIS_BATCH_MAX_EVENTS: "20",
        KINESIS_MAX_RECORD_BYTES: "700",
        AWS_ACCESS_KEY_ID: "AKIDSECRETSTEST",
        AWS_SECRET_ACCESS_KEY: SECRET,
        AWS_SESSION_TOKEN: TOKEN,
        AWS_REGION: "eu-west-1"
      }
      // Throttled, dropped, expired, then through: delivered (the largest events dead-lettered by size).
      const early = ["ProvisionedThroughputExceededException", "drop", "ExpiredTokenException"] as const
      proxy.fault = (call) => {
        if (call.target !== "PutRecords") return undefined
        const kind = early[call.n - 1]
        if (kind === undefined) return undefined
        return kind === "drop" ? { kind: "drop" } : { kind: "error", error: kind }
      }
      const ok = await cli(["run", input, "--log-level", "all"], env).exited
      assert.strictEqual(ok.code, 0, ok.stderr)
      assert.include(ok.stderr, "kinesis: ")
      assert.isAbove((await kinesis.readAll("secrets")).length, 0)
      // Refused credentials: the sink stops, naming the cause.
      proxy.fault = (call) => (call.target === "PutRecords" ? { kind: "error", error: "UnrecognizedClientException" } : undefined)
      fs.writeFileSync(input, copiesOfExample(1, 1).map((r) => JSON.stringify(r)).join("\n"))
      const refused = await cli(["run", input, "--log-level", "all"], env).exited
      assert.strictEqual(refused.code, 1)
      assert.include(refused.stderr, "the credentials are not valid")
      const status = await cli(["status", "--state-path", state], {}).exited
      assert.match(status.stdout, /kinesis: .*; stopped since .*the credentials are not valid/)
      const dead = await cli(["dead-letters", "list", "--state-path", state], {}).exited
      assert.include(dead.stdout, "record limit")

      const texts: Array<[string, string]> = [
        ["run", ok.stdout + ok.stderr],
        ["run, refused", refused.stdout + refused.stderr],
        ["status", status.stdout + status.stderr],
        ["dead letters", dead.stdout + dead.stderr]
      ]
      for (const suffix of ["", "-wal", "-shm"]) {
        if (fs.existsSync(state + suffix)) texts.push([`state file${suffix}`, fs.readFileSync(state + suffix).toString("latin1")])
      }
      for (const [where, text] of texts) {
        for (const secret of [SECRET, TOKEN, SECRET.slice(0, 16), TOKEN.slice(0, 16)]) {
          assert.notInclude(text, secret, `${where} shows a secret`)
        }
      }
    } finally {
      await proxy.close()
      await kinesis.close()
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
