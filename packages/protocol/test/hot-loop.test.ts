import { afterEach, describe, expect, it } from "vitest"
import { busyPollMs, keepHot, polling, setBusyPoll } from "../src/hot-loop.ts"

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe("busy-poll window", () => {
  afterEach(() => setBusyPoll(0))

  it("off by default (no DJINN_BUSY_POLL_MS): keepHot starts nothing", async () => {
    setBusyPoll(0)
    keepHot()
    expect(polling()).toBe(false)
    expect(busyPollMs()).toBe(0)
  })

  it("polls for the window after the last traffic, then stops; traffic inside the window extends it", async () => {
    setBusyPoll(40)
    keepHot()
    expect(polling()).toBe(true)
    // The loop keeps turning: immediates run many times within the window (a blocked poll would run none between timers).
    let turns = 0
    const count = () => { turns++; if (polling()) setImmediate(count) }
    setImmediate(count)
    await sleep(25)
    expect(polling()).toBe(true)
    keepHot() // traffic at ~25 ms: the window now ends at ~65 ms
    await sleep(25)
    expect(polling()).toBe(true)
    await sleep(80)
    expect(polling()).toBe(false)
    expect(turns).toBeGreaterThan(10)
  })
})
