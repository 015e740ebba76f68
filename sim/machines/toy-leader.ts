// Adapter for core/toy/leader.ts, the harness's own test protocol.

import { z } from "zod";
import { TOY_LEADER_DEFAULTS, ToyLeader, type ToyLeaderConfig } from "../../core/toy/leader.js";
import type { Json } from "../../core/trace.js";
import { voteOnce } from "../checkers/vote-once.js";
import type { AnyMachine, InvariantChecker, MachineAdapter, TraceLine } from "./adapter.js";

const d = TOY_LEADER_DEFAULTS;

const configSchema = z
  .object({
    electionTimeoutMs: z
      .tuple([z.number().int().positive(), z.number().int().positive()])
      .refine(([lo, hi]) => lo <= hi, "the first bound must not exceed the second")
      .default([d.electionTimeoutMs[0], d.electionTimeoutMs[1]]),
    heartbeatMs: z.number().int().positive().default(d.heartbeatMs),
    checkQuorum: z.boolean().default(d.checkQuorum),
    syncWrites: z.boolean().default(d.syncWrites),
    bugs: z
      .object({ voteBeforePersist: z.boolean().default(false) })
      .strict()
      .default({ voteBeforePersist: false }),
  })
  .strict()
  .default({
    electionTimeoutMs: [d.electionTimeoutMs[0], d.electionTimeoutMs[1]],
    heartbeatMs: d.heartbeatMs,
    checkQuorum: d.checkQuorum,
    syncWrites: d.syncWrites,
    bugs: { voteBeforePersist: false },
  });

function inspect(m: AnyMachine): ReturnType<ToyLeader["inspect"]> {
  return (m as unknown as ToyLeader).inspect();
}

/** At most one leader per term, over the whole run (leaders are announced with `leader` events). */
function electionSafety(): InvariantChecker {
  const leaderOf = new Map<number, string>();
  return {
    name: "election-safety",
    description: "at most one node becomes leader in any term",
    onTrace(line: TraceLine) {
      if (line.type !== "leader" || typeof line["term"] !== "number" || line.node === undefined) return null;
      const prev = leaderOf.get(line["term"]);
      if (prev !== undefined && prev !== line.node) return `${prev} and ${line.node} both became leader in term ${line["term"]}`;
      leaderOf.set(line["term"], line.node);
      return null;
    },
  };
}

export const toyLeaderAdapter: MachineAdapter<ToyLeaderConfig> = {
  name: "toy-leader",
  summary: "leader election with durable votes and heartbeats (the harness's test protocol)",
  configSchema,
  observation: [
    { name: "role", type: "string", values: ["follower", "candidate", "leader"], doc: "the node's role" },
    { name: "term", type: "number", doc: "the latest term the node has seen" },
    { name: "leader", type: "string", nullable: true, doc: "the leader the node follows" },
  ],
  keyEvents: ["leader", "step-down", "recovered"],
  create: (init) => new ToyLeader(init),
  observe(m) {
    const s = inspect(m);
    return { role: s.role, term: s.term, leader: s.leader };
  },
  invariants: () => [electionSafety(), voteOnce({ name: "vote-once", description: "no node votes for two candidates in one term, even across a crash", round: "term", forgetOnWipe: false })],
  converged(view) {
    const live = view.nodes.filter((n) => view.status(n) === "up");
    if (live.length === 0) return "no node is up";
    const leaders = live.filter((n) => view.observation(n)["role"] === "leader");
    if (leaders.length !== 1) return `${leaders.length} leaders among ${live.length} live nodes`;
    const leader = leaders[0] as string;
    const term = view.observation(leader)["term"];
    const lagging = live.filter((n) => view.observation(n)["leader"] !== leader || view.observation(n)["term"] !== term);
    return lagging.length === 0 ? null : `${lagging.join(", ")} do not follow ${leader} in term ${String(term)}`;
  },
  workload: {
    description: "put/get on a few keys, sent to the leader (following not-leader hints)",
    kinds: { kv: "put/get on four keys" },
    request(rng, _client, opIndex) {
      const key = `k${Math.floor(rng.next() * 4)}`;
      return rng.next() < 0.5 ? { op: "get", key } : { op: "put", key, value: `v${opIndex}` };
    },
    classify(reply: Json) {
      const r = reply as { ok?: boolean; leader?: string | null };
      if (r.ok === true) return { outcome: "ok" };
      return { outcome: "redirect", to: r.leader ?? null };
    },
  },
};
