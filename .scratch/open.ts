import { Effect } from "effect"
import * as Sqlite from "../src/DedupeStore/Sqlite.js"
import { DedupeStore } from "../src/DedupeStore.js"
Effect.runPromiseExit(Effect.scoped(Effect.provide(DedupeStore, Sqlite.layer({ filename: "/proc/x/y.db" })))).then((e) => console.log(String(e)))
