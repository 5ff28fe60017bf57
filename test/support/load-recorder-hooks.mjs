// Module hooks (they run on the loader's own thread): append each resolved URL to the record.
import { appendFileSync } from "node:fs"

let file

export async function initialize(data) {
  file = data.file
}

export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context)
  if (file !== undefined) appendFileSync(file, resolved.url + "\n")
  return resolved
}
