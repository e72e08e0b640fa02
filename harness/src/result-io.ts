// Schema-validated reading and writing of result files, and loading a results directory for the analyzer.
import { Effect, FileSystem, Path, Schema } from "effect"
import { harnessError, issuesOf } from "./errors.ts"
import { buildResultFile, RESULT_SCHEMA_ID, ResultFile, resultFileName } from "./result.ts"

/** Validates, then writes `<dir>/<workload>__<tag>.json` via a temp file and rename, so readers never see half a file. */
export const writeResultFile = Effect.fn("Result.write")(function*(dir: string, file: ResultFile) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const target = path.join(dir, resultFileName(file.workload, file.tag))
  const encoded = yield* Schema.encodeUnknownEffect(ResultFile)(file, { errors: "all", onExcessProperty: "error" }).pipe(
    Effect.mapError((e) => harnessError("ResultInvalid", target, issuesOf(e.issue))),
  )
  const io = (e: { readonly message: string }) => harnessError("ResultIo", target, [{ key: "", detail: e.message }])
  yield* fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError(io))
  const tmp = `${target}.${process.pid}.tmp`
  yield* fs.writeFileString(tmp, `${JSON.stringify(encoded, null, 2)}\n`).pipe(Effect.mapError(io))
  yield* fs.rename(tmp, target).pipe(Effect.mapError(io))
  return target
})

/** Decodes already-parsed JSON; `file` names the source in errors. */
export const decodeResultFile = (json: unknown, file: string) =>
  Schema.decodeUnknownEffect(ResultFile)(json, { errors: "all", onExcessProperty: "error" }).pipe(
    Effect.mapError((e) => harnessError("ResultInvalid", file, issuesOf(e.issue))),
  )

const parseJson = (text: string, file: string) =>
  Effect.try({
    try: (): unknown => JSON.parse(text),
    catch: (e) => harnessError("ResultInvalid", file, [{ key: "", detail: `not JSON: ${(e as Error).message}` }]),
  })

export const readResultFile = Effect.fn("Result.read")(function*(file: string) {
  const fs = yield* FileSystem.FileSystem
  const text = yield* fs.readFileString(file).pipe(
    Effect.mapError((e) => harnessError("ResultIo", file, [{ key: "", detail: e.message }])),
  )
  return yield* decodeResultFile(yield* parseJson(text, file), file)
})

export interface LoadOptions {
  /** Only these workloads (all when absent or empty). */
  readonly workloads?: ReadonlyArray<string>
  /** Keep only the newest file (by created_at) per workload. */
  readonly latestOnly?: boolean
}

export interface LoadedResult {
  readonly path: string
  /** Aggregates and derived metrics recomputed from the raw runs: the stored ones are for readers, not trusted. */
  readonly result: ResultFile
}

/**
 * Every result file under `dir` (recursively), sorted by workload then created_at. JSON files that are not result
 * files (no `schema: "djinn/overhead-result@1"`) are skipped; a result file that fails validation is an error.
 */
export const loadResults = Effect.fn("Result.loadDir")(function*(dir: string, options: LoadOptions = {}) {
  const fs = yield* FileSystem.FileSystem
  const path = yield* Path.Path
  const names = yield* fs.readDirectory(dir, { recursive: true }).pipe(
    Effect.mapError((e) => harnessError("NoResults", dir, [{ key: "", detail: `cannot list: ${e.message}` }])),
  )
  const loaded: Array<LoadedResult> = []
  for (const name of names.filter((n) => n.endsWith(".json")).sort()) {
    const file = path.join(dir, name)
    const text = yield* fs.readFileString(file).pipe(
      Effect.mapError((e) => harnessError("ResultIo", file, [{ key: "", detail: e.message }])),
    )
    const json = yield* parseJson(text, file)
    if (typeof json !== "object" || json === null || (json as { schema?: unknown }).schema !== RESULT_SCHEMA_ID) continue
    const result = yield* decodeResultFile(json, file)
    loaded.push({ path: file, result: buildResultFile(result) })
  }
  return selectResults(loaded, options)
})

export const selectResults = (
  all: ReadonlyArray<LoadedResult>,
  options: LoadOptions,
): ReadonlyArray<LoadedResult> => {
  const wanted = options.workloads && options.workloads.length > 0 ? new Set(options.workloads) : null
  const picked = all.filter((r) => wanted === null || wanted.has(r.result.workload))
  const sorted = [...picked].sort((a, b) =>
    a.result.workload === b.result.workload
      ? a.result.created_at.localeCompare(b.result.created_at) || a.path.localeCompare(b.path)
      : a.result.workload.localeCompare(b.result.workload)
  )
  if (!options.latestOnly) return sorted
  const latest = new Map<string, LoadedResult>()
  for (const r of sorted) latest.set(r.result.workload, r) // sorted ascending: the last one wins
  return [...latest.values()]
}
