#!/usr/bin/env node
/**
 * `event-vacuum`: see `event-vacuum --help` and the README. Reads the
 * command line and answers help, the version and a bad command line (exit
 * 2) itself; only a command to run loads the vacuum.
 *
 * @since 0.1.0
 */
import * as fs from "node:fs"
import { named, parse } from "./args.js"
import { commands, info } from "./commands.js"
import * as Help from "./help.js"
import { prestart } from "../internal/thread/prestart.js"

/** Commands that vacuum, on the vacuum's own thread unless told otherwise. */
const vacuuming = new Set(["run", "follow", "dead-letters replay"])

const version = (): string => {
  try {
    const pkg = JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version?: string }
    return pkg.version ?? "(unknown version)"
  } catch {
    return "(unknown version)"
  }
}

const given = parse(commands, process.argv.slice(2))
switch (given._tag) {
  case "Help":
    process.stdout.write(
      given.path.length === 0
        ? Help.root(commands, { summary: info.summary, version: version() }, Help.width(process.stdout))
        : Help.command(commands, given.path, Help.width(process.stdout))
    )
    break
  case "Version":
    process.stdout.write(`event-vacuum ${version()}\n`)
    break
  case "Usage":
    process.stderr.write(`event-vacuum: ${given.message}\n  (see ${named(given.path)} --help)\n`)
    process.exitCode = 2
    break
  case "Command": {
    // The vacuum's thread loads its modules while this one loads the command's.
    const thread = given.settings.get("EVENT_VACUUM_THREAD") ?? process.env.EVENT_VACUUM_THREAD ?? "worker"
    if (vacuuming.has(given.command.path.join(" ")) && thread.trim().toLowerCase() === "worker") prestart()
    const { main } = await import("./main.js")
    main(given)
  }
}
