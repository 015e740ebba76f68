import { describe, expect, it } from "vitest";
import { header, jsonl } from "./test-support/traces.js";
import { countAtOrBefore, loadTrace, TraceError } from "./trace.js";

describe("reading traces", () => {
  it("a simulator trace: header, events, the end line, clients apart from nodes", () => {
    const t = loadTrace([
      {
        name: "a.jsonl",
        text: jsonl([
          header(["n1", "n2"]),
          { t: 0, node: "n1", type: "state", role: "master" },
          { t: 1, node: "c1", type: "client-op", phase: "invoke", op: 0, target: "n1", req: { cmd: ["GET", "k"] } },
          { t: 2, type: "fault", action: "heal", id: "p1" },
          { t: 3, type: "end", result: "pass", failures: 0, events: 3 },
        ]),
      },
    ]);
    expect(t.header.machine).toBe("redis-cluster");
    expect(t.events.map((e) => [e.i, e.t, e.node, e.type])).toEqual([
      [0, 0, "n1", "state"],
      [1, 1, "c1", "client-op"],
      [2, 2, null, "fault"],
    ]);
    expect(t.nodes).toEqual(["n1", "n2"]);
    expect(t.clients).toEqual(["c1"]);
    expect(t.end).toMatchObject({ result: "pass" });
    expect(t.t0).toBe(0);
  });

  it("real nodes' pino logs, merged by time; a torn last line is skipped and counted", () => {
    const n1 = jsonl([
      { level: "info", t: 1000, node: "127.0.0.1:7001", type: "listening" },
      { level: "info", t: 1003, node: "127.0.0.1:7001", type: "pfail", about: "127.0.0.1:7002" },
    ]);
    const n2 = `${jsonl([
      { level: "info", t: 1001, node: "127.0.0.1:7002", type: "listening" },
      { level: "info", t: 1003, node: "127.0.0.1:7002", type: "state", role: "master" },
    ])}\n{"level":"info","t":10`;
    const t = loadTrace([
      { name: "n1.log", text: n1 },
      { name: "n2.log", text: n2 },
    ]);
    expect(t.events.map((e) => `${e.t} ${e.node} ${e.type}`)).toEqual([
      "1000 127.0.0.1:7001 listening",
      "1001 127.0.0.1:7002 listening",
      "1003 127.0.0.1:7001 pfail",
      "1003 127.0.0.1:7002 state",
    ]);
    expect(t.events.map((e) => e.source)).toEqual([0, 1, 0, 1]);
    expect(t.sources.map((s) => [s.kind, s.events, s.skipped, s.firstSkipped])).toEqual([
      ["log", 2, 0, null],
      ["log", 2, 1, "line 3: not JSON"],
    ]);
    expect(t.nodes).toEqual(["127.0.0.1:7001", "127.0.0.1:7002"]);
    expect(t.header).toMatchObject({ tool: "faultline", machine: "redis-cluster", nodes: ["127.0.0.1:7001", "127.0.0.1:7002"] });
    expect(t.t0).toBe(1000);
  });

  it("clear errors for what is not a trace", () => {
    expect(() => loadTrace([{ name: "e.jsonl", text: "" }])).toThrow(new TraceError("e.jsonl: no trace events (empty)"));
    expect(() => loadTrace([{ name: "x.txt", text: "hello\nworld" }])).toThrow("x.txt: no trace events (line 1: not JSON)");
    expect(() => loadTrace([{ name: "v.jsonl", text: jsonl([{ ...header(["n1"]), v: 2 }]) }])).toThrow("v.jsonl: trace version 2 (this viewer reads version 1)");
    expect(() => loadTrace([{ name: "h.jsonl", text: jsonl([{ t: 0, node: "n1", type: "x" }, header(["n1"])]) }])).toThrow("h.jsonl: line 2: a header after events");
    expect(() => loadTrace([])).toThrow("no trace given");
  });

  it("countAtOrBefore: the events up to and including t", () => {
    const t = loadTrace([{ name: "a", text: jsonl([1, 2, 2, 5].map((x) => ({ t: x, node: "n1", type: "x" }))) }]);
    expect([0, 1, 2, 3, 5, 9].map((x) => countAtOrBefore(t.events, x))).toEqual([0, 1, 3, 3, 4, 4]);
  });
});
