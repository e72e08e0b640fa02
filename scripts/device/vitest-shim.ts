// A stand-in for the part of vitest that the kernel and engine tests use, so that they run on the GPU host from a
// bundle (scripts/device/bundle-tests.ts), where there is Node but no node_modules. Collects describe/it (async
// describe bodies included), runs hooks and tests in order, prints one line per test and a summary, and sets the
// exit code. Matchers: the ones these tests call; an unknown one fails the test loudly rather than passing.
import { isDeepStrictEqual } from "node:util"

type Fn = () => unknown
interface Test { readonly name: string; readonly fn?: Fn; readonly skip: boolean }
interface Suite {
  readonly name: string
  /** The describe body, run at collection time (awaited, one suite after another, as vitest does). */
  readonly body?: Fn
  readonly children: (Suite | Test)[]
  readonly beforeAll: Fn[]
  readonly afterAll: Fn[]
  readonly beforeEach: Fn[]
  readonly afterEach: Fn[]
}

const newSuite = (name: string, body?: Fn): Suite => ({ name, body, children: [], beforeAll: [], afterAll: [], beforeEach: [], afterEach: [] })
const root = newSuite("")
let current = root

const isSuite = (x: Suite | Test): x is Suite => "children" in x

export const describe = Object.assign(
  (name: string, fn: Fn): void => { current.children.push(newSuite(name, fn)) },
  { skip: (name: string, _fn: Fn): void => { current.children.push({ name, skip: true }) } },
)

const collectErrors: string[] = []

/** Runs the describe bodies depth first, each with its own suite current, awaiting async ones. */
const collect = async (suite: Suite): Promise<void> => {
  if (suite.body !== undefined) {
    const parent = current
    current = suite
    try { await suite.body() } catch (e) { collectErrors.push(`${suite.name} (collecting): ${e instanceof Error ? e.stack : String(e)}`) } finally { current = parent }
  }
  for (const c of suite.children) if (isSuite(c)) await collect(c)
}

const addTest = (name: string, fn: Fn | undefined, skip: boolean) => current.children.push({ name, fn, skip })
export const it = Object.assign((name: string, fn: Fn, _timeout?: number) => addTest(name, fn, false), {
  skip: (name: string, fn?: Fn) => addTest(name, fn, true),
  skipIf: (cond: unknown) => (name: string, fn: Fn, _timeout?: number) => addTest(name, fn, Boolean(cond)),
  runIf: (cond: unknown) => (name: string, fn: Fn, _timeout?: number) => addTest(name, fn, !cond),
})
export const test = it
export const beforeAll = (fn: Fn): void => { current.beforeAll.push(fn) }
export const afterAll = (fn: Fn): void => { current.afterAll.push(fn) }
export const beforeEach = (fn: Fn): void => { current.beforeEach.push(fn) }
export const afterEach = (fn: Fn): void => { current.afterEach.push(fn) }

const show = (v: unknown): string => {
  try { return typeof v === "string" ? JSON.stringify(v) : JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? `${x}n` : x))?.slice(0, 200) ?? String(v) } catch { return String(v) }
}

/** expect.objectContaining(sample): matches any object holding sample's properties. */
class ObjectContaining {
  readonly sample: object
  constructor(sample: object) { this.sample = sample }
}

const matchesObject = (actual: unknown, expected: unknown): boolean => {
  if (expected instanceof ObjectContaining) return matchesObject(actual, expected.sample)
  if (typeof expected !== "object" || expected === null) return isDeepStrictEqual(actual, expected)
  if (typeof actual !== "object" || actual === null) return false
  return Object.entries(expected).every(([k, v]) => matchesObject((actual as Record<string, unknown>)[k], v))
}

const thrownMatches = (error: unknown, expected?: unknown): boolean => {
  if (expected === undefined) return true
  const message = error instanceof Error ? error.message : String(error)
  if (typeof expected === "string") return message.includes(expected)
  if (expected instanceof RegExp) return expected.test(message)
  if (typeof expected === "function") return error instanceof (expected as new () => unknown)
  return matchesObject(error, expected)
}

const matchers = (actual: unknown, negate: boolean) => {
  const check = (ok: boolean, what: string) => {
    if (ok === negate) throw new Error(`expected ${show(actual)} ${negate ? "not " : ""}${what}`)
  }
  const num = actual as number
  return {
    toBe: (e: unknown) => check(Object.is(actual, e), `to be ${show(e)}`),
    toEqual: (e: unknown) => check(isDeepStrictEqual(actual, e) || matchesObject(actual, e) && matchesObject(e, actual), `to equal ${show(e)}`),
    toStrictEqual: (e: unknown) => check(isDeepStrictEqual(actual, e), `to strictly equal ${show(e)}`),
    toMatchObject: (e: unknown) => check(matchesObject(actual, e), `to match ${show(e)}`),
    toBeLessThan: (e: number) => check(num < e, `to be < ${e}`),
    toBeLessThanOrEqual: (e: number) => check(num <= e, `to be ≤ ${e}`),
    toBeGreaterThan: (e: number) => check(num > e, `to be > ${e}`),
    toBeGreaterThanOrEqual: (e: number) => check(num >= e, `to be ≥ ${e}`),
    toBeCloseTo: (e: number, digits = 2) => check(Math.abs(num - e) < 10 ** -digits / 2, `to be close to ${e}`),
    toBeDefined: () => check(actual !== undefined, "to be defined"),
    toBeUndefined: () => check(actual === undefined, "to be undefined"),
    toBeNull: () => check(actual === null, "to be null"),
    toBeTruthy: () => check(Boolean(actual), "to be truthy"),
    toBeFalsy: () => check(!actual, "to be falsy"),
    toBeNaN: () => check(Number.isNaN(actual), "to be NaN"),
    toBeInstanceOf: (c: new (...a: never[]) => unknown) => check(actual instanceof c, `to be an instance of ${c.name}`),
    toContain: (e: unknown) => check((actual as { includes(x: unknown): boolean }).includes(e), `to contain ${show(e)}`),
    toHaveLength: (n: number) => check((actual as { length: number }).length === n, `to have length ${n}`),
    toHaveProperty: (k: string) => check(typeof actual === "object" && actual !== null && k in actual, `to have property ${k}`),
    toMatch: (e: string | RegExp) => check(typeof e === "string" ? String(actual).includes(e) : e.test(String(actual)), `to match ${e}`),
    toThrow: (e?: unknown) => {
      let thrown = false
      let error: unknown
      try { (actual as Fn)() } catch (x) { thrown = true; error = x }
      check(thrown && thrownMatches(error, e), `to throw ${e === undefined ? "" : show(String(e))}${thrown ? ` (threw ${String(error)})` : ""}`)
    },
  }
}

type Matchers = ReturnType<typeof matchers>
type Async = { [K in keyof Matchers]: (...a: Parameters<Matchers[K]>) => Promise<void> }

const settle = async (p: unknown, rejects: boolean, negate: boolean, name: string, args: unknown[]) => {
  let value: unknown
  let failed = false
  try { value = await p } catch (e) { value = e; failed = true }
  if (failed !== rejects) throw new Error(`expected the promise to ${rejects ? "reject" : "resolve"}, it ${failed ? `rejected: ${String(value)}` : "resolved"}`)
  if (rejects && name === "toThrow") {
    const ok = thrownMatches(value, args[0])
    if (ok === negate) throw new Error(`expected a rejection matching ${show(String(args[0]))}, got ${String(value)}`)
    return
  }
  ;(matchers(value, negate) as unknown as Record<string, (...a: unknown[]) => void>)[name](...args)
}

const asyncMatchers = (p: unknown, rejects: boolean, negate: boolean): Async =>
  new Proxy({} as Async, { get: (_t, name: string) => (...args: unknown[]) => settle(p, rejects, negate, name, args) })

const unknownMatcher = <T extends object>(m: T): T =>
  new Proxy(m, {
    get: (t, name) => {
      if (name in t) return t[name as keyof T]
      return () => { throw new Error(`vitest-shim: matcher ${String(name)} is not implemented`) }
    },
  })

export const expect = Object.assign(
  (actual: unknown, _message?: string) => Object.assign(unknownMatcher(matchers(actual, false)), {
    not: unknownMatcher(matchers(actual, true)),
    resolves: Object.assign(asyncMatchers(actual, false, false), { not: asyncMatchers(actual, false, true) }),
    rejects: Object.assign(asyncMatchers(actual, true, false), { not: asyncMatchers(actual, true, true) }),
  }),
  { assertions: (_n: number) => {}, objectContaining: (sample: object) => new ObjectContaining(sample) },
)

interface Tally { passed: number; failed: number; skipped: number; failures: string[] }

const runSuite = async (suite: Suite, path: string[], tally: Tally, each: { before: Fn[]; after: Fn[] }): Promise<void> => {
  const here = suite.name === "" ? path : [...path, suite.name]
  const hooks = { before: [...each.before, ...suite.beforeEach], after: [...suite.afterEach, ...each.after] }
  const tests = (s: Suite): number => s.children.reduce((n, c) => n + (isSuite(c) ? tests(c) : c.skip ? 0 : 1), 0)
  if (tests(suite) === 0) {
    const count = (s: Suite): number => s.children.reduce((n, c) => n + (isSuite(c) ? count(c) : 1), 0)
    tally.skipped += count(suite)
    return
  }
  try {
    for (const h of suite.beforeAll) await h()
  } catch (e) {
    tally.failed++
    tally.failures.push(`${here.join(" › ")} (beforeAll): ${e instanceof Error ? e.stack : String(e)}`)
    return
  }
  for (const child of suite.children) {
    if (isSuite(child)) { await runSuite(child, here, tally, hooks); continue }
    const name = [...here, child.name].join(" › ")
    if (child.skip || child.fn === undefined) { tally.skipped++; console.log(`  - ${name} (skipped)`); continue }
    const t0 = performance.now()
    try {
      for (const h of hooks.before) await h()
      await child.fn()
      for (const h of hooks.after) await h()
      tally.passed++
      console.log(`  ✓ ${name} ${(performance.now() - t0).toFixed(0)} ms`)
    } catch (e) {
      tally.failed++
      tally.failures.push(`${name}: ${e instanceof Error ? e.stack : String(e)}`)
      console.log(`  ✗ ${name}: ${e instanceof Error ? e.message : String(e)}`)
    }
  }
  for (const h of suite.afterAll) {
    try { await h() } catch (e) { tally.failed++; tally.failures.push(`${here.join(" › ")} (afterAll): ${String(e)}`) }
  }
}

/** Runs everything collected so far; resolves to the number of failures (and sets process.exitCode). */
export const run = async (label: string): Promise<number> => {
  await collect(root)
  const tally: Tally = { passed: 0, failed: collectErrors.length, skipped: 0, failures: [...collectErrors] }
  console.log(label)
  await runSuite(root, [], tally, { before: [], after: [] })
  for (const f of tally.failures) console.log(`FAIL ${f}`)
  console.log(`${label}: ${tally.passed} passed, ${tally.failed} failed, ${tally.skipped} skipped`)
  if (tally.failed > 0) process.exitCode = 1
  return tally.failed
}
