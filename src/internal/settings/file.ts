/**
 * The file sink's settings: a table that loads without the sink.
 *
 * @internal
 */
import * as Setting from "../../Setting.js"
import { selectionSettings } from "./selection.js"

/**
 * The file sink's settings, declared once.
 *
 * @since 0.2.0
 */
export const settings = {
  path: Setting.make(Setting.text(), {
    env: "EVENT_VACUUM_FILE_PATH",
    value: "<file>",
    doc: "the file the file sink appends events to, one JSON per line (required for the file sink)"
  }),
  ...selectionSettings("EVENT_VACUUM_FILE_", "file")
}
