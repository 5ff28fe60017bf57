/**
 * The heap in use after full garbage collections: what a test can compare
 * before and after, to see what is kept rather than what is allocated.
 */
import * as v8 from "node:v8"
import { runInNewContext } from "node:vm"

v8.setFlagsFromString("--expose-gc")
const gc = runInNewContext("gc") as () => void

export const heapAfterGc = (): number => {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}
