/**
 * A listening address as the metrics setting takes it: a table-side module,
 * light enough for `--help`.
 *
 * @internal
 */

/**
 * `host:port`, `:port` or `port` (127.0.0.1 then); IPv6 hosts in brackets.
 * Answers the host and port, or what is wrong.
 */
export const parseAddress = (text: string): { readonly host: string; readonly port: number } | string => {
  const m = /^(?:(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):)?([0-9]{1,5})$/.exec(text.trim())
  if (m === null) return "expected host:port (say 127.0.0.1:9464), :port or port"
  const port = Number(m[2])
  if (port > 65_535) return `port ${port} is over 65535`
  const host = m[1] === undefined || m[1] === "" ? "127.0.0.1" : m[1].replace(/^\[|\]$/g, "")
  return { host, port }
}
