import { describe, expect, it } from "vitest";
import { MessageIndex } from "./messages.js";
import { simTrace } from "./test-support/traces.js";

describe("message pairing", () => {
  const trace = simTrace(
    ["n1", "n2"],
    [
      { t: 0, node: "n1", type: "send", id: 1, to: "n2", msg: "ping" },
      { t: 1, node: "n2", type: "send", id: 2, to: "n1", msg: "pong" },
      { t: 2, node: "n2", type: "recv", id: 1, from: "n1", msg: "ping" },
      { t: 3, node: "n2", type: "drop", id: 2, to: "n1", msg: "pong", reason: "partition" },
      { t: 4, node: "n1", type: "drop", to: "n9", msg: "meet", reason: "unknown-destination" },
      { t: 5, node: "n1", type: "send", id: 3, to: "n2", msg: "fail" },
      { t: 6, node: "n1", type: "recv", id: 77, from: "n2", msg: "update" },
      { t: 2000, node: "n2", type: "send", id: 4, to: "n1", msg: "ping" },
      { t: 2001, node: "n1", type: "recv", id: 4, from: "n2", msg: "ping" },
    ],
  );
  const m = new MessageIndex(trace);

  it("send → recv, send → drop, a drop without id, one in flight, a recv without its send", () => {
    expect(m.all.map((x) => [x.from, x.to, x.type, x.sendT, x.endT, x.outcome, x.reason])).toEqual([
      ["n1", "n2", "ping", 0, 2, "recv", null],
      ["n2", "n1", "pong", 1, 3, "drop", "partition"],
      ["n1", "n9", "meet", 4, 4, "drop", "unknown-destination"],
      ["n1", "n2", "fail", 5, 2001, "in-flight", null],
      ["n2", "n1", "update", 6, 6, "recv", null],
      ["n2", "n1", "ping", 2000, 2001, "recv", null],
    ]);
    expect([...m.types]).toEqual([
      ["ping", 2],
      ["pong", 1],
      ["meet", 1],
      ["fail", 1],
      ["update", 1],
    ]);
  });

  it("the messages in the air in a window, with a type filter; long ones are not missed", () => {
    expect(m.between(2.5, 3).map((x) => x.type)).toEqual(["pong"]);
    expect(m.between(1500, 1600).map((x) => x.type)).toEqual(["fail"]);
    expect(m.between(0, 10, (t) => t !== "ping").map((x) => x.type)).toEqual(["pong", "meet", "fail", "update"]);
    expect(m.between(2000.5, 3000).map((x) => x.type)).toEqual(["fail", "ping"]);
  });
});
