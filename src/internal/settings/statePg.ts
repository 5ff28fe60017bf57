/**
 * The PostgreSQL store's settings: a table that loads without the store.
 *
 * @internal
 */
import * as Setting from "../../Setting.js"

/**
 * The PostgreSQL store's settings, declared once. `EVENT_VACUUM_STATE_URL`
 * chooses it; without one the state is the SQLite file.
 *
 * @since 0.3.0
 */
export const settings = {
  url: Setting.make(
    Setting.custom({
      ...Setting.secret,
      check: (x) => Setting.secret.check(x),
      value: "<postgres://...>"
    }),
    {
      env: "EVENT_VACUUM_STATE_URL",
      default: "none",
      doc: "a postgres:// URL: the state on PostgreSQL, shared by a fleet of CUs (none: the SQLite file); its password is never shown"
    }
  ),
  poolSize: Setting.make(Setting.int({ min: 1, max: 100 }), {
    env: "EVENT_VACUUM_STATE_POOL_SIZE",
    default: 4,
    doc: "connections to PostgreSQL at most"
  }),
  statementTimeout: Setting.make(Setting.duration({ min: "100 millis" }), {
    env: "EVENT_VACUUM_STATE_STATEMENT_TIMEOUT",
    default: "30 seconds",
    doc: "how long one statement may run on PostgreSQL"
  }),
  schema: Setting.make(Setting.text((s) => (/^[a-z_][a-z0-9_]{0,62}$/.test(s) ? undefined : "expected a schema name of a-z 0-9 _")), {
    env: "EVENT_VACUUM_STATE_SCHEMA",
    value: "<name>",
    default: "event_vacuum",
    doc: "the PostgreSQL schema holding the vacuum's tables (created when missing)"
  })
}
