/**
 * The OTLP logs schema: the official `.proto` files of opentelemetry-proto
 * (v1.11.0 and after, in `proto/`, unchanged), loaded by protobuf.js once,
 * when the OTLP sink is first made. Field names are protobuf.js's camelCase
 * (`timeUnixNano`), which is also the OTLP/JSON mapping's.
 *
 * @internal
 */
import protobuf from "protobufjs"
import * as fs from "node:fs"
import { fileURLToPath } from "node:url"

/** The folder of the `.proto` files: beside this module (the build copies it into dist). */
export const protoDirectory = fileURLToPath(new URL("./proto/", import.meta.url))

export interface LogsSchema {
  readonly ExportLogsServiceRequest: protobuf.Type
  readonly ExportLogsServiceResponse: protobuf.Type
  readonly LogsData: protobuf.Type
}

let loaded: LogsSchema | undefined

/** The message types, loaded on first use. Throws when the `.proto` files are missing (a broken install). */
export const logsSchema = (): LogsSchema => {
  if (loaded !== undefined) return loaded
  const root = new protobuf.Root()
  root.resolvePath = (_origin, target) => (target.startsWith(protoDirectory) ? target : protoDirectory + target)
  const service = "opentelemetry/proto/collector/logs/v1/logs_service.proto"
  if (!fs.existsSync(protoDirectory + service)) {
    throw new Error(`the OTLP schema is missing: no ${protoDirectory + service} (the package was built without it)`)
  }
  root.loadSync(service)
  root.resolveAll()
  loaded = {
    ExportLogsServiceRequest: root.lookupType("opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest"),
    ExportLogsServiceResponse: root.lookupType("opentelemetry.proto.collector.logs.v1.ExportLogsServiceResponse"),
    LogsData: root.lookupType("opentelemetry.proto.logs.v1.LogsData")
  }
  return loaded
}
