import { describe, expect, it } from "vitest";
import { describe as describeEvent, filterEvents, keyEventIndices, nextKeyEvent, NO_FILTER, outages, previousKeyEvent } from "./events.js";
import { simTrace } from "./test-support/traces.js";

describe("key events and the event list", () => {
  const trace = simTrace(
    ["n1", "n2"],
    [
      { t: 0, node: "n1", type: "send", id: 1, to: "n2", msg: "ping" },
      { t: 5, node: "n1", type: "fault", action: "crash" },
      { t: 6, type: "fault", action: "skipped", fault: 1, reason: "nothing to do" },
      { t: 7, node: "n2", type: "pfail", about: "n1", name: "aaa", silentMs: 1100 },
      { t: 8, node: "n2", type: "recv", id: 1, from: "n1", msg: "ping" },
      { t: 9, node: "n2", type: "promoted", replaced: "n1", epoch: 5, how: "election", slots: "0-5460" },
    ],
  );
  const keys = keyEventIndices(trace.events);

  it("faults, PFAIL and promotions are key events; the swarm's bookkeeping is not", () => {
    expect(keys).toEqual([1, 3, 5]);
  });

  it("next and previous key event from a time", () => {
    expect(nextKeyEvent(trace.events, keys, 0)?.t).toBe(5);
    expect(nextKeyEvent(trace.events, keys, 5)?.t).toBe(7);
    expect(nextKeyEvent(trace.events, keys, 9)).toBeNull();
    expect(previousKeyEvent(trace.events, keys, 9)?.t).toBe(7);
    expect(previousKeyEvent(trace.events, keys, 5)).toBeNull();
  });

  it("describes an event as key=value pairs and filters by text, type, node", () => {
    expect(describeEvent(trace.events[3] as never)).toBe("about=n1 name=aaa silentMs=1100");
    expect(filterEvents(trace.events, NO_FILTER)).toHaveLength(6);
    expect(filterEvents(trace.events, { ...NO_FILTER, text: "SILENT" })).toEqual([3]);
    expect(filterEvents(trace.events, { ...NO_FILTER, text: "world" })).toEqual([2]);
    expect(filterEvents(trace.events, { ...NO_FILTER, types: new Set(["send", "recv"]) })).toEqual([0, 4]);
    expect(filterEvents(trace.events, { ...NO_FILTER, nodes: new Set(["n2"]), keyOnly: true })).toEqual([3, 5]);
  });
});

describe("outages", () => {
  it("crash → restart and pause → resume intervals; one still open ends with the trace", () => {
    const t = simTrace(
      ["n1", "n2"],
      [
        { t: 1, node: "n1", type: "fault", action: "crash" },
        { t: 2, node: "n2", type: "fault", action: "pause" },
        { t: 3, node: "n1", type: "fault", action: "restart" },
        { t: 4, node: "n1", type: "fault", action: "crash" },
        { t: 5, node: "n2", type: "fault", action: "resume", queued: 0 },
      ],
    );
    expect(outages(t.events, 10)).toEqual([
      { node: "n1", kind: "crashed", from: 1, to: 3 },
      { node: "n2", kind: "paused", from: 2, to: 5 },
      { node: "n1", kind: "crashed", from: 4, to: 10 },
    ]);
  });
});
