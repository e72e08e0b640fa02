/** An environment variable where there is one (Node, Deno's Node compatibility); undefined in a browser. */
export const envVar = (name: string): string | undefined =>
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name]
