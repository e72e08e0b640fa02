/** An environment variable where there is one (Node, Deno's Node compatibility); undefined in a browser. */
export const envVar = (name: string): string | undefined =>
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name]

/** A positive integer from an environment variable (A/B switches), else `fallback` (unset or not a positive integer). */
export const envPositiveInt = (name: string, fallback: number): number => {
  const v = Number(envVar(name) ?? fallback)
  return Number.isInteger(v) && v > 0 ? v : fallback
}
