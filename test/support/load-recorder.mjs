// Loaded with --import: records the URL of every module the process resolves
// into the file LOAD_RECORD names (test/index.test.ts reads it).
import { register } from "node:module"

register("./load-recorder-hooks.mjs", import.meta.url, { data: { file: process.env.LOAD_RECORD } })
