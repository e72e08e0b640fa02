import { Schema, SchemaIssue } from "effect"

/** One problem at one place: `key` is a key path like `workloads[2].params.new_tokens` ("" = the whole document). */
export const Issue = Schema.Struct({ key: Schema.String, detail: Schema.String })
export type Issue = typeof Issue.Type

/**
 * The harness's one domain error. `file` names the config/result file (or directory, env var, flag) at fault and
 * `issues` every key path that is wrong, so a user can fix a file in one pass.
 */
export class HarnessError extends Schema.TaggedError<HarnessError>()("HarnessError", {
  reason: Schema.Literals(["ConfigNotFound", "ConfigInvalid", "ResultInvalid", "ResultIo", "NoResults", "ReportIo"]),
  file: Schema.String,
  issues: Schema.Array(Issue),
  message: Schema.String,
}) {}

export const harnessError = (
  reason: HarnessError["reason"],
  file: string,
  issues: ReadonlyArray<Issue>,
): HarnessError =>
  new HarnessError({
    reason,
    file,
    issues,
    message: issues.length === 1
      ? `${file}: ${formatIssue(issues[0])}`
      : `${file}: ${issues.length} problems\n${issues.map((i) => `  ${formatIssue(i)}`).join("\n")}`,
  })

const formatIssue = (i: Issue): string => (i.key === "" ? i.detail : `${i.key}: ${i.detail}`)

/** `["workloads", 2, "params"]` → `workloads[2].params`. */
export const keyPath = (path: ReadonlyArray<PropertyKey>): string =>
  path.reduce<string>((acc, k) => {
    if (typeof k === "number") return `${acc}[${k}]`
    const name = String(k)
    return acc === "" ? name : `${acc}.${name}`
  }, "")

const standard = SchemaIssue.makeFormatterStandardSchemaV1()

/** Flattens a Schema issue tree into one Issue per failing key path. */
export const issuesOf = (issue: SchemaIssue.Issue): ReadonlyArray<Issue> =>
  standard(issue).issues.map((i) => ({
    key: keyPath((i.path ?? []).map((p) => (typeof p === "object" && p !== null && "key" in p ? p.key : p))),
    detail: i.message,
  }))
