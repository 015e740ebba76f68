// INFO memory's figures come from the host's memory probe (ClusterNodeInit.hostMemory): read at
// start for used_memory_startup, on every cron tick and by INFO for the peak. Without a probe (the
// simulator) the figures are zeros and the node never asks.

import { describe, expect, it } from "vitest";
import type { Effect } from "../machine.js";
import { NodeRunner } from "../runner.js";
import { mulberry32 } from "../test-support/prng.js";
import { ClusterNode, type HostMemory } from "./node.js";
import { CLUSTER_DEFAULTS, type ClusterMsg, type ClusterRep } from "./types.js";

/** A lone node on a scripted clock whose probe returns `memory.now` and counts its calls. */
function lone(probe: boolean) {
  const memory = { now: { usedBytes: 1000, rssBytes: 5000, totalSystemBytes: 1 << 30 } as HostMemory, reads: 0 };
  const hostMemory = (): HostMemory => {
    memory.reads++;
    return memory.now;
  };
  const node = new ClusterNode({ id: "127.0.0.1:7000", peers: ["127.0.0.1:7000"], config: CLUSTER_DEFAULTS, rng: mulberry32(1), ...(probe ? { hostMemory } : {}) });
  const runner = new NodeRunner(node);
  let nowMs = 1_000;
  let reqId = 0;
  const step = (input: Parameters<typeof runner.step>[0]): Effect<ClusterMsg, ClusterRep>[] => {
    const out: Effect<ClusterMsg, ClusterRep>[] = [];
    for (const e of runner.step(input, nowMs)) {
      if (e.kind === "persist") out.push(...step({ kind: "persisted", id: e.id }));
      else out.push(e);
    }
    return out;
  };
  step({ kind: "start", recovered: null });
  return {
    memory,
    cron(): void {
      nowMs += CLUSTER_DEFAULTS.cronMs;
      step({ kind: "timer", name: "cron" });
    },
    /** INFO memory's fields, as numbers where they are numbers. */
    info(): Record<string, string> {
      const reply = step({ kind: "client", client: "c", reqId: ++reqId, req: { cmd: ["INFO", "memory"] } }).find((e) => e.kind === "reply");
      if (reply?.kind !== "reply" || reply.value.type !== "verbatim") throw new Error(`INFO replied ${JSON.stringify(reply)}`);
      const text = new TextDecoder().decode(reply.value.value);
      return Object.fromEntries(text.split("\r\n").filter((l) => l.includes(":")).map((l) => l.split(":", 2) as [string, string]));
    },
  };
}

describe("INFO memory from the host's probe", () => {
  it("reports used, RSS, total and startup memory; the peak is the highest used_memory any cron tick or INFO saw", () => {
    const n = lone(true);
    expect(n.info()).toMatchObject({ used_memory: "1000", used_memory_rss: "5000", used_memory_peak: "1000", used_memory_startup: "1000", total_system_memory: "1073741824", mem_fragmentation_ratio: "5.00" });
    n.memory.now = { usedBytes: 9000, rssBytes: 12000, totalSystemBytes: 1 << 30 };
    n.cron(); // a burst only a cron tick saw
    n.memory.now = { usedBytes: 4000, rssBytes: 11000, totalSystemBytes: 1 << 30 };
    expect(n.info()).toMatchObject({ used_memory: "4000", used_memory_rss: "11000", used_memory_peak: "9000", used_memory_startup: "1000", used_memory_peak_perc: "44.44%" });
    n.memory.now = { usedBytes: 20000, rssBytes: 30000, totalSystemBytes: 1 << 30 };
    expect(n.info()).toMatchObject({ used_memory: "20000", used_memory_peak: "20000" });
  });

  it("without a probe (the simulator) every figure is zero and the node asks nothing", () => {
    const n = lone(false);
    n.cron();
    expect(n.info()).toMatchObject({ used_memory: "0", used_memory_rss: "0", used_memory_peak: "0", used_memory_startup: "0", total_system_memory: "0" });
    expect(n.memory.reads).toBe(0);
  });
});
