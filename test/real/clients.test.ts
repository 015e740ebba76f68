// The Redis Cluster clients people use, against six real `faultline node` processes formed into a
// cluster by `faultline cluster create` (no redis-cli here):
//
// - ioredis `Cluster` and node-redis `createCluster` (RESP3, its default): keys across slots,
//   MGET with hash tags, pipelines, MULTI/EXEC, pub/sub with PUBLISH sent to every node, sharded
//   pub/sub, reads from replicas (READONLY).
// - `faultline cluster reshard` of 300 slots while ioredis writes into exactly those slots: every
//   acknowledged write is readable afterwards.
// - SIGKILL of a master while ioredis writes: the client goes on after the replica's promotion;
//   how many acknowledged writes were lost is printed (asynchronous replication loses some; it is
//   a figure, not an assertion), and none may be lost outside the killed master's slots.
//
// Needs dist/ (`npm test` builds). Every wait is bounded; afterAll disconnects every client and
// kills every node, whatever happened.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Cluster, Redis } from "ioredis";
import { createClient, createCluster } from "redis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { keySlot } from "../../core/cluster/slots.js";
import { parseClusterNodes, type NodeEntry } from "../../node-runtime/cluster-table.js";
import { alive, ask, assertBuilt, clusterState, diagnostics, faultline, freeClusterPort, killNodes, type NodeProcess, sleep, startNode, waitFor, waitForPing } from "./support.js";

const NODE_TIMEOUT_MS = 1000;
const START_TIMEOUT_MS = 15_000;
const SETTLE_TIMEOUT_MS = 15_000;
/** Node timeout 1 s: PFAIL after 1 s, FAIL and an election within a few more. */
const FAILOVER_TIMEOUT_MS = 20_000;
const RESHARD_SLOTS = 300;
const RESHARD_WRITERS = 4;

const nodes: NodeProcess[] = [];
/** Everything with a connection: closed in afterAll even when a test failed midway. */
const closers: (() => Promise<unknown> | void)[] = [];
let root = "";
let ports: number[] = [];

function track<T>(client: T, close: (c: T) => Promise<unknown> | void): T {
  closers.push(() => close(client));
  return client;
}

/** An ioredis Cluster that retries briefly and gives up on a command after 2 s (so loops stay bounded). */
function ioCluster(options: ConstructorParameters<typeof Cluster>[1] = {}): Cluster {
  const c = new Cluster([{ host: "127.0.0.1", port: ports[0] as number }], {
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    slotsRefreshTimeout: 2000,
    clusterRetryStrategy: (times) => (times > 50 ? null : 100),
    ...options,
    redisOptions: { connectTimeout: 2000, commandTimeout: 2000, maxRetriesPerRequest: 3, ...options.redisOptions },
  });
  c.on("error", () => {}); // connection errors during a failover are expected; commands report their own
  return track(c, (x) => x.disconnect());
}

async function tableOf(port: number): Promise<NodeEntry[]> {
  return parseClusterNodes(await ask(port, ["CLUSTER", "NODES"]));
}

/** The master serving `slot` as `port` sees it. */
async function masterOf(port: number, slot: number): Promise<NodeEntry> {
  const m = (await tableOf(port)).find((e) => e.master && e.slots.has(slot));
  if (m === undefined) throw new Error(`no master serves slot ${slot} in ${port}'s table`);
  return m;
}

/** Keys `{tag}…` whose tags hash to each of `slots`: a tag per slot, found by counting up. */
function tagsForSlots(slots: ReadonlySet<number>): Map<number, string> {
  const tags = new Map<number, string>();
  for (let n = 0; tags.size < slots.size && n < 5_000_000; n++) {
    const slot = keySlot(`t${n}`);
    if (slots.has(slot) && !tags.has(slot)) tags.set(slot, `{t${n}}`);
  }
  return tags;
}

/** A small deterministic PRNG (mulberry32), so a failing run writes the same keys again. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Waits until `count` messages arrived in `got`. */
async function messages(got: readonly string[], count: number, what: string): Promise<void> {
  await waitFor(`${what}: ${count} messages (have ${got.length}: ${got.join(", ")})`, 5_000, async () => (got.length >= count ? true : null));
}

/** CLIENT LIST lines of the node at `port` for connections named `name`. */
async function clientsNamed(port: number, name: string): Promise<string[]> {
  return (await ask(port, ["CLIENT", "LIST"])).split("\n").filter((l) => l.includes(` name=${name} `));
}

describe("ioredis and node-redis against six faultline nodes formed by faultline cluster create", () => {
  beforeAll(async () => {
    assertBuilt();
    process.once("exit", () => {
      for (const n of nodes) if (alive(n)) n.child.kill("SIGKILL");
    });
    root = mkdtempSync(join(tmpdir(), "faultline-clients-"));
    const taken = new Set<number>();
    for (let i = 0; i < 6; i++) {
      const port = await freeClusterPort(taken);
      taken.add(port);
      nodes.push(startNode(root, port, NODE_TIMEOUT_MS));
    }
    ports = nodes.map((n) => n.port);
    await waitForPing(nodes, START_TIMEOUT_MS);
  });

  afterEach(({ task }) => {
    if (task.result?.state === "fail") console.error(`${task.name} failed; nodes in ${root}\n${diagnostics(nodes)}`);
  });

  afterAll(async () => {
    for (const close of closers.splice(0)) {
      try {
        await Promise.race([close(), sleep(2000)]);
      } catch {
        // already closed
      }
    }
    await killNodes(nodes);
    if (root !== "") rmSync(root, { recursive: true, force: true });
  });

  it("faultline cluster create makes 3 masters with a replica each, and every node reaches cluster_state:ok", async () => {
    const create = await faultline(["cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--replicas", "1", "--yes"]);
    expect(create.code, create.stdout + create.stderr).toBe(0);
    expect(create.stdout).toContain(`Master[0] -> Slots 0 - 5460\nMaster[1] -> Slots 5461 - 10922\nMaster[2] -> Slots 10923 - 16383\n`);
    expect(create.stdout).toContain(`Adding replica 127.0.0.1:${ports[3]} to 127.0.0.1:${ports[0]}`);
    expect(create.stdout).toContain("[OK] All nodes agree about slots configuration.");
    expect(create.stdout).toContain("[OK] All 16384 slots covered.");
    for (const p of ports) await waitFor(`cluster_state:ok on ${p}`, SETTLE_TIMEOUT_MS, async () => ((await clusterState(p)) === "ok" ? true : null));
    for (const p of ports) {
      await waitFor(`${p} sees 3 masters and 3 replicas`, SETTLE_TIMEOUT_MS, async () => {
        const t = await tableOf(p);
        return t.filter((e) => e.master && e.slots.size > 0).length === 3 && t.filter((e) => !e.master && e.masterId !== null).length === 3 ? true : null;
      });
    }
    // Creating again is refused: the nodes are no longer empty.
    const again = await faultline(["cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--replicas", "1", "--yes"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`[ERR] 127.0.0.1:${ports[0]} is not empty: it already knows other nodes (cluster_known_nodes:6`);
  });

  describe("ioredis 6 Cluster", () => {
    it("SET/GET across slots, MGET with hash tags, pipelines and MULTI/EXEC", async () => {
      const c = ioCluster();
      const keys = Array.from({ length: 30 }, (_, i) => `io:${i}`);
      expect(new Set(keys.map((k) => Math.floor(keySlot(k) / 5462))).size).toBe(3);
      for (const k of keys) expect(await c.set(k, `v-${k}`)).toBe("OK");
      for (const k of keys) expect(await c.get(k)).toBe(`v-${k}`);
      await c.mset("{io}a", "1", "{io}b", "2", "{io}c", "3");
      expect(await c.mget("{io}a", "{io}b", "{io}c", "{io}missing")).toEqual(["1", "2", "3", null]);
      await expect(c.mget("io:0", "io:1")).rejects.toThrow("CROSSSLOT Keys in request don't hash to the same slot");
      // A pipeline of commands on one slot, and one spread over every shard (ioredis splits it per node).
      const p = await c.pipeline().set("{io}p", "x").append("{io}p", "y").get("{io}p").incr("{io}n").incr("{io}n").exec();
      expect(p).toEqual([
        [null, "OK"],
        [null, 2],
        [null, "xy"],
        [null, 1],
        [null, 2],
      ]);
      const spread = await Promise.all(keys.map((k) => c.pipeline().get(k).exec()));
      expect(spread.map((r) => r?.[0]?.[1])).toEqual(keys.map((k) => `v-${k}`));
      const tx = await c.multi().set("{io}t", "1").incr("{io}t").lpush("{io}l", "a", "b").lrange("{io}l", 0, -1).exec();
      expect(tx).toEqual([
        [null, "OK"],
        [null, 2],
        [null, 2],
        [null, ["b", "a"]],
      ]);
      await expect(c.multi().set("{io}t", "1").set("io:0", "x").exec()).rejects.toThrow();
    });

    it("SUBSCRIBE on one node receives PUBLISH sent to each of the six nodes", async () => {
      const sub = ioCluster();
      const got: string[] = [];
      sub.on("message", (channel: string, message: string) => got.push(`${channel}:${message}`));
      await sub.subscribe("news");
      for (const port of ports) {
        const direct = track(new Redis({ host: "127.0.0.1", port, lazyConnect: true }), (x) => x.disconnect());
        await direct.connect();
        await direct.publish("news", `from-${port}`);
        direct.disconnect();
      }
      await messages(got, 6, "SUBSCRIBE news");
      expect([...got].sort()).toEqual(ports.map((p) => `news:from-${p}`).sort());
    });

    it("SSUBSCRIBE / SPUBLISH with shardedSubscribers", async () => {
      const sub = ioCluster({ shardedSubscribers: true });
      const pub = ioCluster();
      const got: string[] = [];
      sub.on("smessage", (channel: string, message: string) => got.push(`${channel}:${message}`));
      await sub.ssubscribe("{sh}news");
      await sub.ssubscribe("{other}news"); // another slot, another shard's subscriber connection
      expect(await pub.spublish("{sh}news", "one")).toBe(1);
      expect(await pub.spublish("{other}news", "two")).toBe(1);
      await messages(got, 2, "SSUBSCRIBE");
      expect(got.sort()).toEqual(["{other}news:two", "{sh}news:one"]);
    });

    it('scaleReads: "slave" reads from replicas, which have READONLY set', async () => {
      const c = ioCluster({ scaleReads: "slave", redisOptions: { connectionName: "io-ro" } });
      const keys = Array.from({ length: 12 }, (_, i) => `ro:${i}`);
      for (const k of keys) await c.set(k, `v-${k}`);
      // Replication is asynchronous: a replica may answer before the write reaches it.
      for (const k of keys) await waitFor(`replica read of ${k}`, 5_000, async () => ((await c.get(k)) === `v-${k}` ? true : null));
      const replicas = (await tableOf(ports[0] as number)).filter((e) => !e.master);
      const readers = (await Promise.all(replicas.map((r) => clientsNamed(r.port, "io-ro")))).flat().filter((l) => / flags=r /.test(l) && / cmd=get /.test(l));
      expect(readers.length, "connections on replicas that are READONLY and ran GET").toBeGreaterThan(0);
    });
  });

  describe("node-redis 6 createCluster (RESP3)", () => {
    async function nrCluster(options: { useReplicas?: boolean; name?: string } = {}) {
      const c = createCluster({
        rootNodes: [{ socket: { host: "127.0.0.1", port: ports[1] as number } }],
        useReplicas: options.useReplicas ?? false,
        defaults: { socket: { connectTimeout: 2000, reconnectStrategy: 100 }, ...(options.name === undefined ? {} : { name: options.name }) },
      });
      c.on("error", () => {});
      track(c, (x) => x.destroy());
      await c.connect();
      return c;
    }

    it("SET/GET across slots, MGET with hash tags, pipelines and MULTI/EXEC", async () => {
      const c = await nrCluster();
      const keys = Array.from({ length: 30 }, (_, i) => `nr:${i}`);
      // Commands issued together are pipelined per node.
      expect(await Promise.all(keys.map((k) => c.set(k, `v-${k}`)))).toEqual(keys.map(() => "OK"));
      expect(await Promise.all(keys.map((k) => c.get(k)))).toEqual(keys.map((k) => `v-${k}`));
      await c.mSet([
        ["{nr}a", "1"],
        ["{nr}b", "2"],
      ]);
      expect(await c.mGet(["{nr}a", "{nr}b", "{nr}missing"])).toEqual(["1", "2", null]);
      // node-redis 6 splits a multi-key read over slots by itself (its request policies), so no CROSSSLOT reaches it.
      expect(await c.mGet(["nr:0", "nr:1", "nr:2"])).toEqual(["v-nr:0", "v-nr:1", "v-nr:2"]);
      expect(await c.multi().set("{nr}t", "1").incr("{nr}t").get("{nr}t").exec()).toEqual(["OK", 2, "2"]);
      expect(await c.multi().set("{nr}p", "x").append("{nr}p", "y").get("{nr}p").execAsPipeline()).toEqual(["OK", 2, "xy"]);
      expect(await c.hGetAll("{nr}nohash")).toEqual({});
      await c.hSet("{nr}h", { f: "1", g: "2" });
      expect(await c.hGetAll("{nr}h")).toEqual({ f: "1", g: "2" }); // a RESP3 map
    });

    it("SUBSCRIBE receives PUBLISH sent to each of the six nodes, and SSUBSCRIBE receives SPUBLISH", async () => {
      const c = await nrCluster();
      const got: string[] = [];
      await c.subscribe("nr-news", (message, channel) => got.push(`${channel}:${message}`));
      for (const port of ports) {
        const direct = createClient({ socket: { host: "127.0.0.1", port, reconnectStrategy: false } });
        direct.on("error", () => {});
        track(direct, (x) => x.destroy());
        await direct.connect();
        await direct.publish("nr-news", `from-${port}`);
        direct.destroy();
      }
      await messages(got, 6, "SUBSCRIBE nr-news");
      expect([...got].sort()).toEqual(ports.map((p) => `nr-news:from-${p}`).sort());

      const sgot: string[] = [];
      await c.sSubscribe("{nrs}news", (message, channel) => sgot.push(`${channel}:${message}`));
      expect(await c.sPublish("{nrs}news", "sharded")).toBe(1);
      await messages(sgot, 1, "SSUBSCRIBE {nrs}news");
      expect(sgot).toEqual(["{nrs}news:sharded"]);
    });

    it("useReplicas: true reads from replicas, which have READONLY set", async () => {
      const c = await nrCluster({ useReplicas: true, name: "nr-ro" });
      const keys = Array.from({ length: 12 }, (_, i) => `nro:${i}`);
      for (const k of keys) await c.set(k, `v-${k}`);
      // node-redis picks master or replica per read; ask enough times that replicas get some.
      for (const k of keys) {
        await waitFor(`read of ${k}`, 5_000, async () => ((await c.get(k)) === `v-${k}` ? true : null));
        for (let i = 0; i < 4; i++) await c.get(k);
      }
      const replicas = (await tableOf(ports[0] as number)).filter((e) => !e.master);
      const readers = (await Promise.all(replicas.map((r) => clientsNamed(r.port, "nr-ro")))).flat().filter((l) => / flags=r /.test(l) && / cmd=get /.test(l));
      expect(readers.length, "connections on replicas that are READONLY and ran GET").toBeGreaterThan(0);
    });
  });

  it(`faultline cluster reshard of ${RESHARD_SLOTS} slots while ioredis writes into them: every acknowledged write is readable afterwards`, async () => {
    const source = await masterOf(ports[0] as number, 0);
    const target = (await tableOf(ports[0] as number)).find((e) => e.master && e.slots.size > 0 && e.id !== source.id) as NodeEntry;
    const moving = source.slots.toArray().slice(0, RESHARD_SLOTS);
    const tags = [...tagsForSlots(new Set(moving)).values()];
    expect(tags.length).toBe(RESHARD_SLOTS);
    const c = ioCluster();

    // Each writer owns its keys, so per key there is one writer and the last acknowledged value is known.
    // Per key: the last acknowledged value, and values sent after it whose outcome is unknown (an error or timeout).
    const acked = new Map<string, string>();
    const unknown = new Map<string, string[]>();
    const KEYS_PER_WRITER = 150;
    const keyOf = (w: number, j: number) => `${tags[(w * KEYS_PER_WRITER + j) % tags.length]}w${w}:${j}`;
    // Keys exist before the move, so MIGRATE has work to do.
    for (let w = 0; w < RESHARD_WRITERS; w++) {
      await Promise.all(Array.from({ length: KEYS_PER_WRITER }, (_, j) => c.set(keyOf(w, j), "0").then(() => acked.set(keyOf(w, j), "0"))));
    }

    let writing = true;
    let writes = 0;
    let failures = 0;
    const failureTexts = new Map<string, number>();
    const writer = async (w: number) => {
      const rnd = prng(1000 + w);
      for (let seq = 1; writing; seq++) {
        // Half overwrite a key (a key MIGRATE may be shipping right now), half create a new one.
        const key = seq % 2 === 0 ? keyOf(w, Math.floor(rnd() * KEYS_PER_WRITER)) : `${tags[Math.floor(rnd() * tags.length)]}new:${w}:${seq}`;
        const value = `${w}:${seq}`;
        try {
          await c.set(key, value);
          acked.set(key, value);
          unknown.delete(key);
          writes += 1;
        } catch (e) {
          failures += 1;
          const text = e instanceof Error ? e.message.slice(0, 80) : String(e);
          failureTexts.set(text, (failureTexts.get(text) ?? 0) + 1);
          unknown.set(key, [...(unknown.get(key) ?? []), value]);
        }
      }
    };
    const writers = Array.from({ length: RESHARD_WRITERS }, (_, w) => writer(w));
    const started = Date.now();
    const reshard = await faultline(["cluster", "reshard", `127.0.0.1:${ports[0]}`, "--from", source.id, "--to", target.address, "--slots", String(RESHARD_SLOTS), "--yes"], 40_000);
    await sleep(300); // a few writes after the move, through MOVED
    writing = false;
    await Promise.all(writers);
    console.log(
      `reshard: ${RESHARD_SLOTS} slots in ${Date.now() - started} ms; ${writes} acknowledged writes during it, ${failures} failed` +
        (failures > 0 ? ` (${[...failureTexts].map(([t, n]) => `${n}× ${t}`).join("; ")})` : ""),
    );
    expect(reshard.code, reshard.stdout + reshard.stderr).toBe(0);
    expect(reshard.stdout).toContain(`Moved ${RESHARD_SLOTS} slots (`);
    expect(writes).toBeGreaterThan(100);

    // Read every key back through a fresh client (no cached slot map).
    const reader = ioCluster();
    const wrong: string[] = [];
    const entries = [...acked];
    for (let i = 0; i < entries.length; i += 200) {
      const chunk = entries.slice(i, i + 200);
      const got = await Promise.all(chunk.map(([k]) => reader.get(k)));
      chunk.forEach(([k, v], j) => {
        const g = got[j] ?? null;
        if (g !== v && !(unknown.get(k) ?? []).includes(g as string)) wrong.push(`${k} (slot ${keySlot(k)}): acknowledged ${v}, read ${g}`);
      });
    }
    expect(wrong.slice(0, 10), `${wrong.length} of ${entries.length} keys lost their last acknowledged write`).toEqual([]);
    const check = await faultline(["cluster", "check", `127.0.0.1:${ports[0]}`]);
    expect(check.code, check.stdout + check.stderr).toBe(0);
    expect((await tableOf(ports[0] as number)).find((e) => e.id === target.id)?.slots.size).toBe(target.slots.size + RESHARD_SLOTS);
  });

  it("SIGKILL of a master while ioredis writes: the client goes on after the promotion; acknowledged writes lost are counted", async () => {
    const survivorPort = ports[0] as number;
    const victim = await masterOf(survivorPort, 16383);
    const replica = (await tableOf(survivorPort)).find((e) => e.masterId === victim.id) as NodeEntry;
    expect(replica, `a replica of ${victim.address}`).toBeDefined();
    const c = ioCluster();

    const acked = new Map<string, { value: string; atMs: number }>();
    let promotedAtMs: number | null = null;
    let killedAtMs = 0;
    let failures = 0;
    let ackedVictimAfterPromotion = 0;
    const deadline = Date.now() + FAILOVER_TIMEOUT_MS;
    const writes = (async () => {
      for (let i = 0; Date.now() < deadline; i++) {
        // Stop once the promoted replica has taken enough writes for the victim's slots.
        if (promotedAtMs !== null && ackedVictimAfterPromotion >= 200) return;
        const key = `fo:${i}`;
        try {
          await c.set(key, `v${i}`);
          acked.set(key, { value: `v${i}`, atMs: Date.now() });
          if (promotedAtMs !== null && victim.slots.has(keySlot(key))) ackedVictimAfterPromotion += 1;
        } catch {
          failures += 1;
          await sleep(20);
        }
      }
    })();

    await sleep(500); // writes flowing before the kill
    const victimProcess = nodes.find((n) => n.port === victim.port) as NodeProcess;
    killedAtMs = Date.now();
    victimProcess.child.kill("SIGKILL");
    await waitFor(`replica ${replica.address} promoted in place of ${victim.address}`, FAILOVER_TIMEOUT_MS, async () => {
      const r = (await tableOf(survivorPort)).find((e) => e.id === replica.id);
      if (r?.master !== true || !r.slots.has(16383)) return null;
      promotedAtMs = Date.now();
      return true;
    });
    await writes;
    const ackedBeforeKill = [...acked.values()].filter((a) => a.atMs < killedAtMs).length;

    const reader = ioCluster();
    const lost: string[] = [];
    const entries = [...acked];
    for (let i = 0; i < entries.length; i += 200) {
      const chunk = entries.slice(i, i + 200);
      const got = await Promise.all(chunk.map(([k]) => reader.get(k).catch((e: unknown) => `error: ${String(e)}`)));
      chunk.forEach(([k, a], j) => {
        if (got[j] !== a.value) lost.push(k);
      });
    }
    const lostElsewhere = lost.filter((k) => !victim.slots.has(keySlot(k)));
    console.log(
      `failover: ${replica.address} promoted ${(promotedAtMs ?? 0) - killedAtMs} ms after SIGKILL of ${victim.address} (node timeout ${NODE_TIMEOUT_MS} ms); ` +
        `${acked.size} acknowledged writes (${ackedBeforeKill} before the kill), ${failures} failed, ` +
        `${lost.length} acknowledged writes lost (all in the killed master's slots: ${lostElsewhere.length === 0}); ` +
        `${ackedVictimAfterPromotion} writes to its slots acknowledged after the promotion`,
    );
    expect(ackedVictimAfterPromotion, "writes to the killed master's slots acknowledged after the promotion").toBeGreaterThanOrEqual(200);
    expect(lostElsewhere, "acknowledged writes lost on shards that did not fail").toEqual([]);
  });
});
