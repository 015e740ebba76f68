// Small traces for the model's tests, written as event objects.

import { loadTrace, type Trace } from "../trace.js";

export const header = (nodes: readonly string[], machine = "redis-cluster") => ({
  v: 1,
  type: "header",
  tool: "faultline-sim",
  version: "0",
  machine,
  nodes,
  seed: 1,
  detail: "messages",
  scenario: { file: "x.yaml", name: "x", source: "" },
});

export const jsonl = (lines: readonly object[]): string => lines.map((e) => JSON.stringify(e)).join("\n");

/** A simulator trace: a header for `nodes`, then the events. */
export function simTrace(nodes: readonly string[], events: readonly object[]): Trace {
  return loadTrace([{ name: "t.jsonl", text: jsonl([header(nodes), ...events]) }]);
}
