// The `real-*` bench sections: real Faultline nodes against redis-server 7 in the same run, on the
// same machine, with the same client programs, so the ratio means something even on a noisy box.
//
//   real-throughput  redis-benchmark SET/GET, -P 1 and -P 16, one node of each kind, AOF off and on
//   real-failover    3+3 clusters, node timeout 1000 ms, SIGKILL a master: → fail, → replica is master
//   real-memory      1M small keys into one node of each kind: RSS (and redis-server's used_memory)
//
// Each section skips with its reason when redis-server, redis-benchmark or redis-cli is missing.
// Figures are printed, never asserted (see bench/README.md).

import { parseClusterNodes, type NodeEntry } from "../node-runtime/cluster-table.js";
import { RespClient } from "../node-runtime/resp-client.js";
import {
  ask,
  askInteger,
  cpuMs,
  diagnostics,
  faultline,
  infoField,
  loadAverage1m,
  loadKeys,
  missingTools,
  ownAllSlots,
  redisBenchmark,
  run,
  Scope,
  type Server,
  type ServerKind,
  type ServerOptions,
  sleep,
  statusBytes,
  waitFor,
  waitForPing,
} from "./real-procs.js";

export interface RealRow {
  readonly name: string;
  readonly figures: Record<string, number | string | boolean>;
}

const KINDS: readonly ServerKind[] = ["faultline", "redis-server"];

/** Faultline first on even repetitions, redis-server first on odd ones: drift in the machine's load hits both. */
const inTurn = (rep: number): readonly ServerKind[] => (rep % 2 === 0 ? KINDS : [...KINDS].reverse());

function skipped(reason: string): RealRow[] {
  return [{ name: "skipped", figures: { reason } }];
}

function progress(text: string): void {
  process.stderr.write(`  ${text}\n`);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;
const round2 = (x: number): number => Math.round(x * 100) / 100;
const mib = (bytes: number): number => round1(bytes / 2 ** 20);

/** A server's pid (spawn succeeded, or `waitForPing` would have failed). */
function pidOf(s: Server): number {
  if (s.child.pid === undefined) throw new Error(`${s.kind} ${s.address} has no pid`);
  return s.child.pid;
}

/** Starts one node of each kind on free ports, owning all 16384 slots, cluster_state:ok. */
async function oneNodeEach(scope: Scope, options: ServerOptions): Promise<Record<ServerKind, Server>> {
  const [pf, pr] = (await scope.freePorts(2)) as [number, number];
  const servers = { faultline: scope.start("faultline", pf, options), "redis-server": scope.start("redis-server", pr, options) };
  await waitForPing(Object.values(servers));
  for (const s of Object.values(servers)) await ownAllSlots(s);
  return servers;
}

// ---- real-throughput ------------------------------------------------------------------------------

const PIPELINES = [1, 16] as const;
type Pipeline = (typeof PIPELINES)[number];
const TESTS = ["SET", "GET"] as const;

/** The issue's targets, Faultline's requests/s over redis-server's. */
const THROUGHPUT_TARGET: Record<Pipeline, number> = { 1: 0.8, 16: 0.4 };

/** -n of the warm-up run that also sizes the measured runs. */
const WARMUP_REQUESTS: Record<Pipeline, number> = { 1: 20_000, 16: 200_000 };
/** Bounds on -n of a measured run. */
const REQUESTS_MIN: Record<Pipeline, number> = { 1: 20_000, 16: 100_000 };
const REQUESTS_MAX: Record<Pipeline, number> = { 1: 400_000, 16: 4_000_000 };

/**
 * -n for a run of about `seconds` (SET then GET) at the warm-up's requests/s, rounded to 10,000.
 * Each server gets its own -n: the same -n for both would make Faultline's runs 3–8 times as long
 * as redis-server's and the section far longer than its 3-minute budget. Requests/s does not
 * depend on -n once the run lasts seconds.
 */
function requestsFor(rps: number, p: Pipeline, seconds: number): number {
  const n = Math.round((rps * seconds) / 2 / 10_000) * 10_000;
  return Math.min(REQUESTS_MAX[p], Math.max(REQUESTS_MIN[p], n));
}

export async function realThroughput(quick: boolean): Promise<RealRow[]> {
  const missing = missingTools(["redis-server", "redis-benchmark"]);
  if (missing !== null) return skipped(missing);
  const rows: RealRow[] = [];
  for (const appendfsync of ["no", "everysec"] as const) rows.push(...(await throughputWith(appendfsync, quick)));
  return rows;
}

/** One configuration: both servers started with `appendfsync`, warmed up, then `reps` alternating rounds. */
async function throughputWith(appendfsync: ServerOptions["appendfsync"], quick: boolean): Promise<RealRow[]> {
  const label = appendfsync === "no" ? "appendonly no" : `appendonly yes, appendfsync ${appendfsync}`;
  const reps = quick ? 1 : 3;
  const seconds = quick ? 2 : 5;
  const scope = new Scope("throughput");
  try {
    const servers = await oneNodeEach(scope, { nodeTimeoutMs: 15_000, appendfsync });
    const load0 = loadAverage1m();
    const requests = new Map<string, number>();
    for (const p of PIPELINES) {
      for (const kind of KINDS) {
        const warm = await benchmark(servers[kind], WARMUP_REQUESTS[p], p);
        const n = requestsFor(Math.min(...TESTS.map((t) => figureOf(warm.figures, t).rps)), p, seconds);
        requests.set(`${kind} ${p}`, n);
        progress(`${label}: ${kind} -P ${p} warm-up ${Math.round(figureOf(warm.figures, "SET").rps)} SET/s → -n ${n}`);
      }
    }
    const rps = new Map<string, number[]>();
    const p50 = new Map<string, number[]>();
    const cpu = new Map<string, number[]>();
    const add = (m: Map<string, number[]>, k: string, v: number) => m.set(k, [...(m.get(k) ?? []), v]);
    for (let rep = 0; rep < reps; rep++) {
      for (const p of PIPELINES) {
        for (const kind of inTurn(rep)) {
          const n = requests.get(`${kind} ${p}`) as number;
          const r = await benchmark(servers[kind], n, p);
          for (const t of TESTS) {
            add(rps, `${kind} ${t} ${p}`, figureOf(r.figures, t).rps);
            add(p50, `${kind} ${t} ${p}`, figureOf(r.figures, t).p50Ms);
          }
          add(cpu, `${kind} ${p}`, (r.cpuMs * 1000) / (n * TESTS.length));
          progress(`${label}: round ${rep + 1}/${reps} ${kind} -P ${p} -n ${n}: ${TESTS.map((t) => `${t} ${Math.round(figureOf(r.figures, t).rps)}/s`).join(", ")}`);
        }
      }
    }
    const loadAvg = `${load0}→${loadAverage1m()}`;
    const rows: RealRow[] = [];
    for (const p of PIPELINES) {
      for (const t of TESTS) {
        const fl = median(rps.get(`faultline ${t} ${p}`) as number[]);
        const rs = median(rps.get(`redis-server ${t} ${p}`) as number[]);
        const ratio = round2(fl / rs);
        rows.push({
          name: `${t} -P ${p} (${label})`,
          figures: {
            unit: "req/s",
            faultline: Math.round(fl),
            "redis-server": Math.round(rs),
            ratio,
            target: `≥ ${THROUGHPUT_TARGET[p]}`,
            met: ratio >= THROUGHPUT_TARGET[p] ? "yes" : "NO",
            flP50Ms: median(p50.get(`faultline ${t} ${p}`) as number[]),
            rsP50Ms: median(p50.get(`redis-server ${t} ${p}`) as number[]),
            flN: requests.get(`faultline ${p}`) as number,
            rsN: requests.get(`redis-server ${p}`) as number,
            runs: reps,
            loadAvg,
          },
        });
      }
      const flCpu = median(cpu.get(`faultline ${p}`) as number[]);
      const rsCpu = median(cpu.get(`redis-server ${p}`) as number[]);
      rows.push({
        name: `server CPU per request, SET+GET -P ${p} (${label})`,
        figures: { unit: "µs", faultline: round1(flCpu), "redis-server": round1(rsCpu), ratio: round2(flCpu / rsCpu), runs: reps },
      });
    }
    return rows;
  } finally {
    await scope.close();
  }
}

interface BenchRun {
  readonly figures: Map<string, { readonly rps: number; readonly p50Ms: number }>;
  /** CPU the server process used during the run (all its threads), ms. */
  readonly cpuMs: number;
}

/** `redis-benchmark -t set,get -n N -c 50 -P p` against `s`, with the CPU the server spent. */
async function benchmark(s: Server, n: number, p: Pipeline): Promise<BenchRun> {
  const pid = pidOf(s);
  const before = cpuMs(pid);
  try {
    const figures = await redisBenchmark(s.port, "set,get", n, p);
    return { figures, cpuMs: cpuMs(pid) - before };
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${diagnostics(s)}`);
  }
}

function figureOf(figures: BenchRun["figures"], test: string): { readonly rps: number; readonly p50Ms: number } {
  const f = figures.get(test);
  if (f === undefined) throw new Error(`redis-benchmark printed no ${test} line`);
  return f;
}

// ---- real-failover --------------------------------------------------------------------------------

const FAILOVER_NODE_TIMEOUT_MS = 1000;
/** How often the survivors' CLUSTER NODES are read after the kill (start to start). */
const POLL_MS = 10;
/** A run that has not seen both events by then records what it has (null for the rest). */
const FAILOVER_WAIT_MS = 30_000;
const STABLE_TIMEOUT_MS = 30_000;

interface FailoverRun {
  /** ms from the SIGKILL to the first survivor whose CLUSTER NODES flags the victim `fail`. */
  readonly failMs: number | null;
  /** …to every survivor flagging it `fail`. */
  readonly failEverywhereMs: number | null;
  /** …to the victim's replica listing itself as `master`. */
  readonly promotedMs: number | null;
}

export async function realFailover(quick: boolean): Promise<RealRow[]> {
  const missing = missingTools(["redis-server", "redis-cli"]);
  if (missing !== null) return skipped(missing);
  const reps = quick ? 2 : 5;
  const runs: Record<ServerKind, FailoverRun[]> = { faultline: [], "redis-server": [] };
  const load0 = loadAverage1m();
  for (let rep = 0; rep < reps; rep++) {
    for (const kind of inTurn(rep)) {
      const r = await failoverOnce(kind);
      runs[kind].push(r);
      progress(`failover ${rep + 1}/${reps} ${kind}: fail after ${r.failMs ?? "-"} ms, on every survivor ${r.failEverywhereMs ?? "-"} ms, replica master after ${r.promotedMs ?? "-"} ms`);
    }
  }
  const loadAvg = `${load0}→${loadAverage1m()}`;
  const row = (name: string, pick: (r: FailoverRun) => number | null): RealRow => {
    const figures: Record<string, number | string> = {};
    const medians: number[] = [];
    for (const kind of KINDS) {
      const got = runs[kind].map(pick).filter((x): x is number => x !== null);
      const prefix = kind === "faultline" ? "fl" : "rs";
      figures[`${prefix}Runs`] = `${got.length}/${reps}`;
      figures[`${prefix}MedianMs`] = got.length > 0 ? Math.round(median(got)) : "-";
      figures[`${prefix}MinMs`] = got.length > 0 ? Math.round(Math.min(...got)) : "-";
      figures[`${prefix}MaxMs`] = got.length > 0 ? Math.round(Math.max(...got)) : "-";
      if (got.length > 0) medians.push(median(got));
    }
    if (medians.length === 2) {
      const ratio = round2((medians[0] as number) / (medians[1] as number));
      figures["ratio"] = ratio;
      figures["target"] = "≤ 1";
      figures["met"] = ratio <= 1 ? "yes" : "NO";
    }
    figures["loadAvg"] = loadAvg;
    return { name, figures };
  };
  return [
    row("SIGKILL → fail on a survivor", (r) => r.failMs),
    row("SIGKILL → fail on all 5 survivors", (r) => r.failEverywhereMs),
    row("SIGKILL → replica lists itself master", (r) => r.promotedMs),
  ];
}

/** A fresh 3+3 cluster of `kind`; SIGKILL the master of slot 0; time the survivors' views. */
async function failoverOnce(kind: ServerKind): Promise<FailoverRun> {
  const scope = new Scope("failover");
  try {
    const ports = await scope.freePorts(6);
    const servers = ports.map((p) => scope.start(kind, p, { nodeTimeoutMs: FAILOVER_NODE_TIMEOUT_MS, appendfsync: "no" }));
    await waitForPing(servers);
    await createCluster(kind, servers);
    const { victim, replica } = await waitForStableCluster(servers);
    const victimServer = servers.find((s) => s.port === victim.port) as Server;
    const survivors = servers.filter((s) => s !== victimServer);
    const replicaAt = survivors.findIndex((s) => s.port === replica.port);
    const clients = await Promise.all(survivors.map((s) => RespClient.connect("127.0.0.1", s.port)));
    try {
      return await timeFailover(victimServer, victim.id, clients, replicaAt);
    } finally {
      for (const c of clients) c.close();
    }
  } finally {
    await scope.close();
  }
}

/** `faultline cluster create` or `redis-cli --cluster create`, 3 masters and a replica each. */
async function createCluster(kind: ServerKind, servers: readonly Server[]): Promise<void> {
  const addresses = servers.map((s) => s.address);
  const r =
    kind === "faultline"
      ? await faultline(["cluster", "create", ...addresses, "--replicas", "1", "--yes"])
      : await run("redis-cli", ["--cluster", "create", ...addresses, "--cluster-replicas", "1", "--cluster-yes"], 60_000);
  if (r.code !== 0) throw new Error(`${kind} cluster create exited ${r.code}:\n${r.stdout}${r.stderr}\n${servers.map(diagnostics).join("\n")}`);
}

/**
 * Waits until every node says cluster_state:ok, knows 6 nodes with no failure or handshake flags
 * and every link connected, all agree on who replicates whom, and every replica's link to its
 * master is up (the initial sync done). Returns the master of slot 0 and its replica.
 */
async function waitForStableCluster(servers: readonly Server[]): Promise<{ victim: NodeEntry; replica: NodeEntry }> {
  return waitFor("a stable 3+3 cluster", STABLE_TIMEOUT_MS, servers, async () => {
    let layout: string | null = null;
    let table: NodeEntry[] = [];
    for (const s of servers) {
      if ((await infoField(s.port, ["CLUSTER", "INFO"], "cluster_state")) !== "ok") return null;
      table = parseClusterNodes(await ask(s.port, ["CLUSTER", "NODES"]));
      if (table.length !== 6) return null;
      if (table.some((e) => !e.connected || ["fail", "fail?", "handshake", "noaddr"].some((f) => e.flags.has(f)))) return null;
      const shape = table
        .map((e) => `${e.id}:${e.master ? "master" : `replica-of-${e.masterId}`}`)
        .sort()
        .join(" ");
      if (layout !== null && shape !== layout) return null;
      layout = shape;
      if (!table.find((e) => e.myself)?.master && (await infoField(s.port, ["INFO", "replication"], "master_link_status")) !== "up") return null;
    }
    const victim = table.find((e) => e.master && e.slots.has(0));
    const replica = table.find((e) => victim !== undefined && e.masterId === victim.id);
    return victim !== undefined && replica !== undefined && table.filter((e) => e.master).length === 3 ? { victim, replica } : null;
  });
}

/** SIGKILL, then every POLL_MS: CLUSTER NODES from every survivor, until all flag `fail` and the replica is master. */
async function timeFailover(victim: Server, victimId: string, survivors: readonly RespClient[], replicaAt: number): Promise<FailoverRun> {
  let failMs: number | null = null;
  let failEverywhereMs: number | null = null;
  let promotedMs: number | null = null;
  const killedAt = performance.now();
  victim.child.kill("SIGKILL");
  while ((failEverywhereMs === null || promotedMs === null) && performance.now() - killedAt < FAILOVER_WAIT_MS) {
    const pollAt = performance.now();
    const views = await Promise.all(survivors.map((c) => c.text(["CLUSTER", "NODES"], 2_000).then(parseClusterNodes, () => null)));
    const at = Math.round(performance.now() - killedAt);
    const flagging = views.filter((v) => v?.find((e) => e.id === victimId)?.flags.has("fail") === true).length;
    if (flagging > 0) failMs ??= at;
    if (flagging === survivors.length) failEverywhereMs ??= at;
    if (views[replicaAt]?.find((e) => e.myself)?.master === true) promotedMs ??= at;
    await sleep(Math.max(0, POLL_MS - (performance.now() - pollAt)));
  }
  return { failMs, failEverywhereMs, promotedMs };
}

// ---- real-memory ----------------------------------------------------------------------------------

/** How long the servers sit idle before RSS is read (after start, after the load). */
const SETTLE_MS = 2_000;
const MEMORY_TARGET = 2;

export async function realMemory(quick: boolean): Promise<RealRow[]> {
  const missing = missingTools(["redis-server"]);
  if (missing !== null) return skipped(missing);
  const keys = quick ? 200_000 : 1_000_000;
  const scope = new Scope("memory");
  try {
    const servers = await oneNodeEach(scope, { nodeTimeoutMs: 15_000, appendfsync: "no" });
    await sleep(SETTLE_MS);
    const rows: RealRow[] = [];
    const perKey: Partial<Record<ServerKind, number>> = {};
    let usedPerKey = 0;
    for (const kind of KINDS) {
      const s = servers[kind];
      const pid = pidOf(s);
      const rssBefore = statusBytes(pid, "VmRSS");
      const usedBefore = kind === "redis-server" ? Number(await infoField(s.port, ["INFO", "memory"], "used_memory")) : null;
      const t0 = performance.now();
      await loadKeys(s.port, keys);
      const loadS = (performance.now() - t0) / 1000;
      const size = await askInteger(s.port, ["DBSIZE"]);
      if (size !== keys) throw new Error(`${kind} has ${size} keys after loading ${keys}`);
      await sleep(SETTLE_MS);
      const rssAfter = statusBytes(pid, "VmRSS");
      perKey[kind] = (rssAfter - rssBefore) / keys;
      const figures: Record<string, number | string> = {
        keys,
        loadS: round1(loadS),
        keysPerS: Math.round(keys / loadS),
        rssBeforeMiB: mib(rssBefore),
        rssAfterMiB: mib(rssAfter),
        peakRssMiB: mib(statusBytes(pid, "VmHWM")),
        rssBytesPerKey: Math.round(perKey[kind]),
      };
      if (usedBefore !== null) {
        const usedAfter = Number(await infoField(s.port, ["INFO", "memory"], "used_memory"));
        usedPerKey = (usedAfter - usedBefore) / keys;
        figures["usedMemoryBytesPerKey"] = Math.round(usedPerKey);
      }
      rows.push({ name: kind, figures });
      progress(`memory: ${kind} ${keys} keys in ${round1(loadS)} s, RSS ${mib(rssBefore)} → ${mib(rssAfter)} MiB`);
    }
    const fl = perKey.faultline as number;
    const ratio = round2(fl / (perKey["redis-server"] as number));
    rows.push({
      name: "faultline / redis-server",
      figures: { rssBytesPerKey: ratio, usedMemoryBytesPerKey: round2(fl / usedPerKey), target: `≤ ${MEMORY_TARGET} (RSS)`, met: ratio <= MEMORY_TARGET ? "yes" : "NO" },
    });
    return rows;
  } finally {
    await scope.close();
  }
}
