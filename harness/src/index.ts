// @djinn/harness public API: load a config, run baselines (one Layer each behind `Baseline`), build run records, write
// result files (`runSweep`); `analyze`/`report` read them back.
export {
  BASELINE_TYPES, Baseline, type BaselineType, canonicalJson, CausalLmWorkload, DEFAULT_SERVER_ADDRESS, Dtype,
  EncoderWorkload, type Env, Experiment, type LoadedConfig, loadConfig, parseConfig, resolveServerAddress,
  type ServerAddress, type AddressSource, sha256, SuiteConfig, type Units, VisionWorkload, WeightsSource,
  weightsSourceFor, Workload, type WorkloadCategory, workloadUnits,
} from "./config.ts"
export { HarnessError, harnessError, Issue, issuesOf, keyPath } from "./errors.ts"
export { mean, quantile, quantileSorted, stddev, type Summary, summarize } from "./stats.ts"
export {
  Adapter, aggregateRuns, BaselineEnvironment, type BaselineInput, BaselineResult, BaselineStatus, buildResultFile,
  bytesToMb, CLIENT_METRICS, Derived, deriveMetrics, Environment, failedRun, type MeasuredRun, measuredRun, type Metric,
  METRICS, PRIMARY_METRICS, RESULT_SCHEMA_ID, ResultFile, resultFileName, type ResultInput, RunRecord, Runtime,
  SERVER_METRICS, SummarySchema,
} from "./result.ts"
export {
  decodeResultFile, type LoadedResult, loadResults, type LoadOptions, readResultFile, selectResults, writeResultFile,
} from "./result-io.ts"
export { describeAdapter, describeWeights, type EnvironmentInput, type GitState, gitState, makeEnvironment, runtimeInfo } from "./environment.ts"
export { analyze, type AnalyzeOptions, type OutputFormat, render, renderCsv, renderMarkdown, tableToMarkdown } from "./analyze.ts"
export { breakdownTable, type Cell, type Column, formatCell, semanticTable, type Table, table1 } from "./tables.ts"
export { renderReport, type ReportOptions, sectionData, type SectionData, writeReport } from "./report.ts"
export { analyzeCommand, defaultSubcommands, makeHarness, reportCommand, runCli } from "./cli.ts"
export { Baseline as BaselineService, type BaselineShape, type Job, makeBaseline, type Measured, type RunOutcome, type RunRequest, type SetupInfo } from "./sweep/baseline.ts"
export { BaselineError, baselineError } from "./sweep/errors.ts"
export { baselineLayer } from "./sweep/layers/index.ts"
export { makeSweepCommand } from "./sweep/command.ts"
export { runSweep, type SweepOptions, type SweepResult } from "./sweep/run.ts"
export { type ModelJob, type ModelSource, outputDigest, type WorkInput, workInput, type WorkOutput } from "./engine/work.ts"
