/**
 * `follow`'s settings: the CU's database and how often to look for new
 * rows; a table that loads without the vacuum.
 *
 * @internal
 */
import * as Setting from "../../Setting.js"

export const settings = {
  cuDb: Setting.make(Setting.text(), {
    env: "EVENT_VACUUM_CU_DB",
    value: "<db>",
    doc: "follow: the CU's DB_URL as the CU has it (a postgres:// URL, or the SQLite name it appends .sqlite to), or the file's path"
  }),
  cuDbPoll: Setting.make(Setting.duration({ min: "10 millis" }), {
    env: "EVENT_VACUUM_CU_DB_POLL",
    default: "1 second",
    doc: "follow: how often it looks for new rows once it has read everything"
  }),
  cuDbTimeout: Setting.make(Setting.duration({ min: "10 millis" }), {
    env: "EVENT_VACUUM_CU_DB_TIMEOUT",
    default: "10 seconds",
    doc: "follow: how long one read of the CU's database may wait (on a lock, or to connect) before follow stops, saying so"
  })
}
