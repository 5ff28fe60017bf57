/**
 * The SQLite store's settings: a table that loads without the store.
 *
 * @internal
 */
import * as Setting from "../../Setting.js"

/**
 * The default state path, relative to the working directory.
 *
 * @since 0.1.0
 */
export const defaultFilename = ".event-vacuum/state.db"

/**
 * The SQLite store's settings, declared once.
 *
 * @since 0.2.0
 */
export const settings = {
  filename: Setting.make(Setting.text(), {
    env: "EVENT_VACUUM_STATE_PATH",
    value: "<file>",
    default: defaultFilename,
    doc: "the SQLite file holding watermarks, outboxes and dead letters (its folder is created); :memory: keeps them in memory"
  }),
  synchronous: Setting.make(Setting.literal("normal", "full"), {
    env: "EVENT_VACUUM_STATE_SYNCHRONOUS",
    default: "normal",
    doc: "normal: a commit survives a crash of the process; full: also a power loss, at an fsync a commit"
  })
}
