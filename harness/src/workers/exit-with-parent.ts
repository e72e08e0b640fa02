// Preloaded (`node --import`) into children that do not watch their stdin, such as the Djinn server: when the harness
// goes away — even killed outright, when no finalizer can run — its end of the stdin pipe closes, and the child is
// asked to stop (SIGTERM, so it shuts down as on Ctrl-C). Unref'd: it never keeps a finished child alive.
process.stdin.on("end", () => process.kill(process.pid, "SIGTERM")).on("error", () => {}).resume()
;(process.stdin as unknown as { unref?: () => void }).unref?.()
