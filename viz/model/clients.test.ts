import { describe, expect, it } from "vitest";
import { clientHistory, findingsOf, lanesOf } from "./clients.js";
import { simTrace } from "./test-support/traces.js";

describe("client history", () => {
  const trace = simTrace(
    ["n1"],
    [
      { t: 0, node: "c1", type: "client-op", phase: "invoke", op: 0, target: "n1", req: { cmd: ["RPUSH", "k1", "c1-0"] } },
      { t: 1, node: "c2", type: "client-op", phase: "invoke", op: 0, target: "n1", req: { cmd: ["LRANGE", "k2", "0", "-1"] } },
      { t: 2, node: "c1", type: "client-retry", op: 0, from: "n1", reply: { err: "MOVED 1 n2" } },
      { t: 3, node: "c1", type: "client-op", phase: "ok", op: 0, value: 1, from: "n2" },
      { t: 4, node: "c2", type: "client-op", phase: "info", op: 0, value: null },
      { t: 5, node: "c1", type: "client-op", phase: "invoke", op: 1, target: "n2", req: { cmd: ["RPUSH", "k1", "c1-1"] } },
      { t: 6, node: "c1", type: "client-op", phase: "fail", op: 1, value: { err: "CLUSTERDOWN" }, from: "n2" },
      { t: 7, node: "c10", type: "client-op", phase: "invoke", op: 0, target: "n1", req: { cmd: ["GET", "k3"] } },
    ],
  );

  it("pairs invoke with ok, fail, info; an op never completed stays open", () => {
    const ops = clientHistory(trace);
    expect(ops.map((o) => [o.client, o.op, o.invokeT, o.endT, o.outcome, o.key, o.target, o.from, o.retries])).toEqual([
      ["c1", 0, 0, 3, "ok", "k1", "n1", "n2", 1],
      ["c2", 0, 1, 4, "info", "k2", "n1", null, 0],
      ["c1", 1, 5, 6, "fail", "k1", "n2", "n2", 0],
      ["c10", 0, 7, null, "open", "k3", "n1", null, 0],
    ]);
    expect([...lanesOf(ops).keys()]).toEqual(["c1", "c2", "c10"]);
    expect(lanesOf(ops).get("c1")?.map((o) => o.op)).toEqual([0, 1]);
  });

  it("findings from sim run --json's failures", () => {
    expect(findingsOf({ pass: false, failures: [{ kind: "invariant", name: "wait-durable", atMs: 12.5, message: "x lost" }, { kind: "odd" }] })).toEqual([
      { atMs: 12.5, kind: "invariant", name: "wait-durable", message: "x lost" },
    ]);
    expect(findingsOf([1, 2])).toBeNull();
    expect(findingsOf({ v: 1 })).toBeNull();
  });
});
