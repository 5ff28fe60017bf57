/**
 * The console sink's settings: a table that loads without the sink.
 *
 * @internal
 */
import * as Setting from "../../Setting.js"
import { selectionSettings } from "./selection.js"

/**
 * The console sink's settings, declared once.
 *
 * @since 0.2.0
 */
export const settings = {
  format: Setting.make(Setting.literal("pretty", "json"), {
    env: "EVENT_VACUUM_CONSOLE_FORMAT",
    default: "pretty",
    doc: "how the console sink prints events: pretty (for people) or json (one per line)"
  }),
  ...selectionSettings("EVENT_VACUUM_CONSOLE_", "console")
}
