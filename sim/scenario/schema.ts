// The scenario file format, as a zod schema. Keys are camelCase and map one-to-one onto the types
// the simulator uses, so an error names exactly the field the user wrote.
//
// Predicates (in `expect`, `when` and node references) are checked by predicates.ts, which
// knows the protocol's observable fields; here they are only required to be present.

import { z } from "zod";
import { TRACE_DETAILS } from "../../core/trace.js";

/** zod's message for a wrong type, or "required" when the field is missing. */
const expected = (what: string) => (iss: { input?: unknown }) => (iss.input === undefined ? "required" : `expected ${what}`);
const ms = z.number({ error: expected("a number of milliseconds") }).nonnegative("must be ≥ 0");
const positiveMs = z.number({ error: expected("a number of milliseconds") }).positive("must be > 0");
const probability = z.number({ error: expected("a probability") }).min(0, "must be between 0 and 1").max(1, "must be between 0 and 1");
const nodeName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/, "node names are letters, digits and _ . : - (up to 64)");

/** `[lo, hi]`, lo ≤ hi; swarm parameters are drawn uniformly from such ranges once per seed. */
function range(inner: z.ZodNumber) {
  return z
    .tuple([inner, inner], { error: "expected a range [low, high]" })
    .refine(([lo, hi]) => lo <= hi, "the low bound must not exceed the high bound");
}

export const distributionSchema = z.discriminatedUnion(
  "dist",
  [
    z.object({ dist: z.literal("constant"), ms: positiveMs }).strict(),
    z
      .object({ dist: z.literal("uniform"), minMs: positiveMs, maxMs: positiveMs })
      .strict()
      .refine((d) => d.minMs <= d.maxMs, { message: "minMs must not exceed maxMs", path: ["maxMs"] }),
    z.object({ dist: z.literal("normal"), meanMs: positiveMs, sdMs: ms, minMs: ms.optional() }).strict(),
    z.object({ dist: z.literal("lognormal"), medianMs: positiveMs, sigma: ms, maxMs: positiveMs.optional() }).strict(),
    z.object({ dist: z.literal("exponential"), meanMs: positiveMs, maxMs: positiveMs.optional() }).strict(),
  ],
  { error: "expected dist: constant | uniform | normal | lognormal | exponential" },
);

const networkSchema = z
  .object({
    mode: z.enum(["tcp", "datagram"]).default("tcp"),
    latency: distributionSchema.default({ dist: "uniform", minMs: 0.2, maxMs: 2 }),
    links: z
      .array(z.object({ from: nodeName, to: nodeName, latency: distributionSchema, bothWays: z.boolean().default(false) }).strict())
      .default([]),
    loss: probability.default(0),
    duplicate: probability.default(0),
  })
  .strict()
  .refine((n) => n.mode === "datagram" || n.duplicate === 0, {
    message: "TCP links never duplicate; set mode: datagram to inject duplicates",
    path: ["duplicate"],
  });

const unsynced = z.enum(["lose", "keep", "random"]);

const diskSchema = z
  .object({
    syncLatency: distributionSchema.default({ dist: "uniform", minMs: 0.5, maxMs: 3 }),
    writeLatency: distributionSchema.default({ dist: "constant", ms: 0.02 }),
    unsyncedOnCrash: unsynced.default("lose"),
    tornWrite: probability.default(0),
    writebackMs: ms.default(5000),
  })
  .strict();

const clockSetting = z.object({ offsetMs: z.number().default(0), driftPpm: z.number().default(0) }).strict();

const clocksSchema = z
  .object({
    /** Each node's offset is drawn from this range (its own stream), unless set under `nodes`. */
    offsetMs: range(z.number()).optional(),
    driftPpm: range(z.number()).optional(),
    nodes: z.record(nodeName, clockSetting).default({}),
  })
  .strict();

const predicate = z.custom<unknown>((v) => v !== undefined && v !== null, "expected a predicate");

/** A node named directly, or the first node (in node order) whose observation matches. */
const nodeRef = z.union([nodeName, z.object({ where: predicate }).strict()], {
  error: "expected a node name or { where: { field: value } }",
});
const nodeRefs = z.union([nodeRef, z.array(nodeRef).min(1)]);

const partitionSpec = z.union(
  [
    z.object({ isolate: nodeRef, oneWay: z.enum(["out", "in"]).optional() }).strict(),
    z.object({ split: z.enum(["majority-minority", "random-halves"]) }).strict(),
    z.object({ groups: z.array(z.array(nodeRef).min(1)).min(2) }).strict(),
    z.object({ from: nodeRefs, to: nodeRefs }).strict(),
  ],
  {
    error:
      "expected { isolate: node }, { split: majority-minority | random-halves }, { groups: [[...], [...]] } or { from: [...], to: [...] } (one-way)",
  },
);

const linkSpec = z.object({ from: nodeRef, to: nodeRef, bothWays: z.boolean().default(true) }).strict();

const diskChange = z
  .object({ node: z.union([z.literal("all"), nodeRefs]), unsyncedOnCrash: unsynced.optional(), tornWrite: probability.optional() })
  .strict();
const networkChange = z
  .object({ loss: probability.optional(), duplicate: probability.optional(), latency: distributionSchema.optional() })
  .strict();
/** An admin command sent to one node as a client request, e.g. `[CLUSTER, FAILOVER, FORCE]`. */
const commandSpec = z
  .object({
    node: nodeRef,
    cmd: z
      .array(z.union([z.string(), z.number()], { error: "expected a word" }).transform(String), { error: "expected a list of words, e.g. [CLUSTER, FAILOVER]" })
      .min(1, "expected at least the command name"),
  })
  .strict();
const clockChange = z
  .object({ node: nodeRefs, jumpMs: z.number().optional(), offsetMs: z.number().optional(), driftPpm: z.number().optional() })
  .strict();

/** A scripted operator task the machine defines (redis-cluster: reshard), e.g. `{ name: reshard, args: { from: n1, to: n2, slots: "0-99" } }`. */
const operateSpec = z
  .object({ name: z.string().min(1), args: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default({}) })
  .strict();

export const FAULT_ACTIONS = [
  "crash",
  "restart",
  "pause",
  "resume",
  "wipe",
  "partition",
  "heal",
  "clog",
  "unclog",
  "network",
  "clock",
  "disk",
  "command",
  "operate",
] as const;
export type FaultActionName = (typeof FAULT_ACTIONS)[number];

/** Actions that `for:` can undo, and what undoes them. */
export const REVERSIBLE: Partial<Record<FaultActionName, string>> = {
  crash: "restart",
  pause: "resume",
  wipe: "restart",
  partition: "heal",
  clog: "unclog",
  network: "the previous settings",
  disk: "the previous settings",
};

/** Exactly one action per fault entry, at a time or when a predicate first holds; `for` undoes it. */
const faultEntry = z
  .object({
    at: ms.optional(),
    when: predicate.optional(),
    delayMs: ms.optional(),
    for: positiveMs.optional(),
    name: z.string().min(1).optional(),
    crash: nodeRefs.optional(),
    restart: nodeRefs.optional(),
    pause: nodeRefs.optional(),
    resume: nodeRefs.optional(),
    wipe: nodeRefs.optional(),
    partition: partitionSpec.optional(),
    heal: z.string().min(1).optional(),
    clog: linkSpec.optional(),
    unclog: z.union([z.literal("all"), linkSpec]).optional(),
    network: networkChange.optional(),
    clock: clockChange.optional(),
    disk: diskChange.optional(),
    command: commandSpec.optional(),
    operate: operateSpec.optional(),
  })
  .strict()
  .superRefine((f, ctx) => {
    const actions = FAULT_ACTIONS.filter((a) => f[a] !== undefined);
    if (actions.length !== 1) {
      ctx.addIssue({
        code: "custom",
        message:
          actions.length === 0
            ? `a fault needs one action: ${FAULT_ACTIONS.join(", ")}`
            : `one action per fault entry, found ${actions.join(" and ")}`,
      });
    }
    if ((f.at === undefined) === (f.when === undefined)) {
      ctx.addIssue({ code: "custom", message: "a fault needs either at: <ms> or when: <predicate>, not both" });
    }
    if (f.delayMs !== undefined && f.when === undefined) ctx.addIssue({ code: "custom", path: ["delayMs"], message: "delayMs goes with when:" });
    const action = actions[0];
    if (f.for !== undefined && action !== undefined && REVERSIBLE[action] === undefined) {
      ctx.addIssue({ code: "custom", path: ["for"], message: `${action} cannot be undone with for:` });
    }
  });

export type FaultEntry = z.infer<typeof faultEntry>;

const trigger = predicate;

const expectation = z.union(
  [
    z.object({ name: z.string().optional(), always: predicate, fromMs: ms.optional() }).strict(),
    z.object({ name: z.string().optional(), eventually: predicate }).strict(),
    z.object({ name: z.string().optional(), within: z.object({ ms: positiveMs, after: trigger, that: predicate }).strict() }).strict(),
  ],
  { error: "expected { always: <predicate> }, { eventually: <predicate> } or { within: { ms, after, that } }" },
);

export type Expectation = z.infer<typeof expectation>;

const workloadSchema = z
  .object({
    clients: z.number().int().min(1).max(10_000),
    /** Which of the machine's workloads (redis-cluster: lists, wait, pubsub); the machine's first by default. */
    kind: z.string().min(1).optional(),
    /** Each client waits a random time with this mean between operations (closed loop). */
    thinkMs: positiveMs.default(100),
    timeoutMs: positiveMs.default(1000),
    /** Redirects followed per operation before it counts as failed. */
    redirectsMax: z.number().int().min(0).max(100).default(5),
    startMs: ms.default(0),
    stopMs: ms.optional(),
  })
  .strict();

const rateRange = range(z.number().nonnegative());

const swarmSchema = z
  .object({
    safetyMs: positiveMs,
    /** After the safety phase the live core must converge within this bound. */
    livenessMs: positiveMs,
    /** Fault generators start this far into the safety phase (e.g. once the cluster has formed). */
    faultsFromMs: ms.default(0),
    /** Who comes back for the liveness phase: every node, or a random majority. */
    core: z.enum(["all", "majority"]).default("all"),
    /** The most nodes down (crashed or paused) at once; default: a minority. */
    maxDown: z.number().int().min(0).optional(),
    faults: z
      .object({
        crash: z.object({ ratePerMin: rateRange, downMs: range(positiveMs), wipe: probability.default(0) }).strict().optional(),
        pause: z.object({ ratePerMin: rateRange, forMs: range(positiveMs) }).strict().optional(),
        partition: z
          .object({
            ratePerMin: rateRange,
            forMs: range(positiveMs),
            modes: z.array(z.enum(["isolate", "majority-minority", "random-halves", "one-way"])).min(1).default(["isolate", "majority-minority", "random-halves"]),
          })
          .strict()
          .optional(),
        clog: z.object({ ratePerMin: rateRange, forMs: range(positiveMs) }).strict().optional(),
        loss: range(probability).optional(),
        duplicate: range(probability).optional(),
        clockJump: z.object({ ratePerMin: rateRange, jumpMs: range(z.number()) }).strict().optional(),
        disk: z
          .object({
            unsyncedOnCrash: z.array(unsynced).min(1),
            tornWrite: range(probability),
            /** fsync latencies to choose from, one per seed (say a fast and a slow disk). */
            syncLatency: z.array(distributionSchema).min(1).optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({}),
    /**
     * Protocol settings drawn per seed: each key takes one of its listed values, merged over
     * `config` (a node's `nodeConfig` still wins), e.g. `{ preVote: [true, false] }`.
     */
    config: z.record(z.string(), z.array(z.unknown(), { error: "expected a list of values to choose from, e.g. preVote: [true, false]" }).min(1)).default({}),
  })
  .strict()
  .refine((sw) => sw.faultsFromMs < sw.safetyMs, { message: "faultsFromMs must be less than safetyMs", path: ["faultsFromMs"] });

export type SwarmConfig = z.infer<typeof swarmSchema>;

export const scenarioSchema = z
  .object({
    name: z.string().min(1).optional(),
    description: z.string().optional(),
    machine: z.string({ error: "expected the name of a protocol, e.g. machine: toy-leader" }),
    config: z.unknown().optional(),
    /** Per-node overrides merged over `config`. */
    nodeConfig: z.record(nodeName, z.record(z.string(), z.unknown())).default({}),
    nodes: z.union([z.number().int().min(1).max(10_000), z.array(nodeName).min(1)], {
      error: "expected a node count (nodes: 5) or a list of names (nodes: [a, b, c])",
    }),
    seed: z.number().int().min(0).max(2 ** 32 - 1).default(1),
    durationMs: positiveMs.optional(),
    network: networkSchema.default({
      mode: "tcp",
      latency: { dist: "uniform", minMs: 0.2, maxMs: 2 },
      links: [],
      loss: 0,
      duplicate: 0,
    }),
    disk: diskSchema.default({
      syncLatency: { dist: "uniform", minMs: 0.5, maxMs: 3 },
      writeLatency: { dist: "constant", ms: 0.02 },
      unsyncedOnCrash: "lose",
      tornWrite: 0,
      writebackMs: 5000,
    }),
    clocks: clocksSchema.default({ nodes: {} }),
    workload: workloadSchema.optional(),
    faults: z.array(faultEntry).default([]),
    expect: z.array(expectation).default([]),
    swarm: swarmSchema.optional(),
    trace: z.object({ detail: z.enum(TRACE_DETAILS).default("messages") }).strict().default({ detail: "messages" }),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.durationMs === undefined && s.swarm === undefined) {
      ctx.addIssue({ code: "custom", path: ["durationMs"], message: "durationMs is required (or a swarm: section)" });
    }
    if (s.durationMs !== undefined && s.swarm !== undefined) {
      ctx.addIssue({ code: "custom", path: ["durationMs"], message: "a swarm run lasts swarm.safetyMs + swarm.livenessMs; drop durationMs" });
    }
    if (s.swarm?.faults.duplicate !== undefined && s.network.mode !== "datagram") {
      ctx.addIssue({ code: "custom", path: ["swarm", "faults", "duplicate"], message: "TCP links never duplicate; set network.mode: datagram to inject duplicates" });
    }
  });

export type ScenarioInput = z.input<typeof scenarioSchema>;
export type ScenarioData = z.infer<typeof scenarioSchema>;
