// The replicated key-value store: replies of every command (table), refusal of malformed commands
// and queries (table), sessions (exactly once, stale, unknown, LRU eviction, idle expiry), the
// registry with leases, list paging, watches (null until a change, compaction, size limit),
// snapshots; and properties over random command sequences: replicas agree, snapshot→restore→
// continue equals continuing, a retried (clientId, seq) never applies twice, and watches report
// exactly the changes after their index (checked against a diff of reads) or "compacted".

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Json } from "../trace.js";
import { KV_LIMITS_DEFAULT, Kv, type KvLimits, type KvRecord, KvStore, type ListReply, stampTime, type WatchReply } from "./kv.js";

/** Applies commands at indexes 1, 2, … and returns the replies. */
function applyAll(store: KvStore, commands: readonly Json[], from = store.index + 1): Json[] {
  return commands.map((c, i) => store.apply(from + i, c));
}

function storeWith(limits: Partial<KvLimits> = {}): KvStore {
  return new KvStore({ ...KV_LIMITS_DEFAULT, ...limits });
}

const text = (store: KvStore): string => JSON.stringify(store.snapshot());

/** The snapshot without `appliedIndex`: what a no-op command must leave alone. */
function stateOf(store: KvStore): Json {
  const { appliedIndex: _ignored, ...rest } = store.snapshot() as { readonly [k: string]: Json };
  return rest;
}

describe("commands", () => {
  it.each<[string, Json[], Json]>([
    ["put on an absent key", [Kv.put("a", "1")], { ok: true, index: 1, prev: null }],
    ["put over a value", [Kv.put("a", "1"), Kv.put("a", "2")], { ok: true, index: 2, prev: "1" }],
    ["delete of a value", [Kv.put("a", "1"), Kv.delete("a")], { ok: true, index: 2, prev: "1" }],
    ["delete of an absent key", [Kv.delete("a")], { ok: true, index: 1, prev: null }],
    ["cas absent → value", [Kv.cas("a", null, "1")], { ok: true, index: 1, prev: null, swapped: true }],
    ["cas expecting absent on a value", [Kv.put("a", "1"), Kv.cas("a", null, "2")], { ok: true, index: 2, prev: "1", swapped: false }],
    ["cas on a match", [Kv.put("a", "1"), Kv.cas("a", "1", "2")], { ok: true, index: 2, prev: "1", swapped: true }],
    ["cas on a mismatch", [Kv.put("a", "1"), Kv.cas("a", "9", "2")], { ok: true, index: 2, prev: "1", swapped: false }],
    ["cas to null deletes", [Kv.put("a", "1"), Kv.cas("a", "1", null)], { ok: true, index: 2, prev: "1", swapped: true }],
    ["register", [Kv.register("raft-leader", "n1:7000")], { ok: true, index: 1, prev: null }],
    ["re-register elsewhere", [Kv.register("s", "h1"), Kv.register("s", "h2")], { ok: true, index: 2, prev: "h1" }],
    ["open a session", [Kv.put("a", "1"), Kv.openSession()], { ok: true, index: 2, clientId: 2 }],
    ["close a session", [Kv.openSession(), Kv.closeSession(1)], { ok: true, index: 2, closed: true }],
    ["close an unknown session", [Kv.closeSession(7)], { ok: true, index: 1, closed: false }],
    ["tick", [Kv.tick(5)], { ok: true, index: 1 }],
  ])("%s", (_name, commands, last) => {
    expect(applyAll(new KvStore(), commands).at(-1)).toEqual(last);
  });

  it.each<[string, Json[], Json]>([
    ["put creates at its index", [Kv.put("a", "1")], { key: "a", value: "1", createIndex: 1, modIndex: 1, leaseUntilMs: null }],
    ["put keeps createIndex, moves modIndex", [Kv.put("a", "1"), Kv.put("b", "x"), Kv.put("a", "1")], { key: "a", value: "1", createIndex: 1, modIndex: 3, leaseUntilMs: null }],
    ["a failed cas changes nothing", [Kv.put("a", "1"), Kv.cas("a", "2", "3")], { key: "a", value: "1", createIndex: 1, modIndex: 1, leaseUntilMs: null }],
    ["delete then put starts a new life", [Kv.put("a", "1"), Kv.delete("a"), Kv.put("a", "2")], { key: "a", value: "2", createIndex: 3, modIndex: 3, leaseUntilMs: null }],
    ["cas to null removes the key", [Kv.put("a", "1"), Kv.cas("a", "1", null)], null],
    ["register writes registry/<service>", [Kv.register("a", "h:1", 100)], null],
  ])("%s", (_name, commands, kv) => {
    const store = new KvStore();
    applyAll(store, commands);
    expect(store.read(Kv.get("a"))).toEqual({ ok: true, index: commands.length, kv });
  });

  it("limits that are not whole numbers ≥ 1 are a programmer error", () => {
    expect(() => storeWith({ historyMax: 0 })).toThrow("KvLimits.historyMax must be a whole number ≥ 1, got 0");
    expect(() => storeWith({ keyLengthMax: 9 })).toThrow('KvLimits.keyLengthMax must leave room for "registry/"');
  });

  it("an apply at an index not above the last is a host bug and throws", () => {
    const store = new KvStore();
    store.apply(5, Kv.put("a", "1"));
    expect(() => store.apply(5, Kv.put("a", "2"))).toThrow(/apply index 5 after 5/);
    expect(() => store.apply(7.5, Kv.put("a", "2"))).toThrow(/apply index/);
  });
});

describe("malformed commands apply as no-ops with a clear error", () => {
  const long = "x".repeat(KV_LIMITS_DEFAULT.keyLengthMax + 1);
  it.each<[Json, string]>([
    [null, "a command must be a JSON object with an op"],
    [[Kv.put("a", "1")], "a command must be a JSON object with an op"],
    ["put a 1", "a command must be a JSON object with an op"],
    [{}, 'unknown op null (ops: put, delete, cas, register, session-open, session-close, tick)'],
    [{ op: "PUT", key: "a", value: "1" }, 'unknown op "PUT"'],
    [{ op: "put", key: "a" }, "put: value must be a string"],
    [{ op: "put", key: "a", value: 1 }, "put: value must be a string"],
    [{ op: "put", key: "", value: "1" }, "put: key must have 1 to 1024 characters, got 0"],
    [{ op: "put", key: long, value: "1" }, "put: key must have 1 to 1024 characters, got 1025"],
    [{ op: "put", key: "a", value: "v".repeat(65537) }, "put: value must have 0 to 65536 characters, got 65537"],
    [{ op: "put", key: "a", value: "1", ttl: 5 }, 'put: unknown field "ttl" (fields: op, key, value, session, atMs)'],
    [{ op: "put", key: "a", value: "1", atMs: -1 }, "put: atMs must be a whole number from 0"],
    [{ op: "put", key: "a", value: "1", atMs: 1.5 }, "put: atMs must be a whole number"],
    [{ op: "put", key: "a", value: "1", session: { clientId: 1, seq: 0 } }, "put: session: seq must be a whole number from 1"],
    [{ op: "put", key: "a", value: "1", session: { clientId: 1 } }, "put: session: seq must be a whole number"],
    [{ op: "put", key: "a", value: "1", session: [1, 1] }, "put: session must be a JSON object"],
    [{ op: "put", key: "a", value: "1", session: { clientId: 1, seq: 1, x: 0 } }, 'put: session: unknown field "x"'],
    [{ op: "delete" }, "delete: key must be a string"],
    [{ op: "cas", key: "a", value: "1" }, "cas: expected is required (a string, or null)"],
    [{ op: "cas", key: "a", expected: null }, "cas: value is required (a string, or null)"],
    [{ op: "cas", key: "a", expected: 3, value: null }, "cas: expected must be a string"],
    [{ op: "register", service: "s", address: "" }, "register: address must have 1 to"],
    [{ op: "register", service: "", address: "h" }, "register: service must have 1 to 1015 characters"],
    [{ op: "register", service: "s", address: "h", ttlMs: 0 }, "register: ttlMs must be a whole number from 1 to 86400000"],
    [{ op: "register", service: "s", address: "h", ttlMs: 86_400_001 }, "register: ttlMs must be a whole number from 1 to 86400000"],
    [{ op: "session-open", session: { clientId: 1, seq: 1 } }, 'session-open: unknown field "session"'],
    [{ op: "session-close" }, "session-close: clientId must be a whole number from 1"],
    [{ op: "tick" }, "tick: atMs must be a whole number"],
  ])("%j", (command, message) => {
    const store = new KvStore();
    applyAll(store, [Kv.put("a", "0"), Kv.openSession()]);
    const before = stateOf(store);
    const reply = store.apply(3, command) as { readonly [k: string]: Json };
    expect(reply).toMatchObject({ ok: false, index: 3, error: "malformed" });
    expect(reply["message"]).toContain(message);
    expect(stateOf(store)).toEqual(before);
    expect(store.index).toBe(3);
  });

  it.each<[Json, string]>([
    [7, "a query must be a JSON object with an op"],
    [{ op: "put", key: "a", value: "1" }, 'unknown query op "put" (ops: get, list, watch)'],
    [{ op: "get" }, "get: key must be a string"],
    [{ op: "list" }, "list: prefix must be a string"],
    [{ op: "list", prefix: "", limit: 0 }, "list: limit must be a whole number from 1 to 1000"],
    [{ op: "list", prefix: "", limit: 1001 }, "list: limit must be a whole number from 1 to 1000"],
    [{ op: "watch", afterIndex: 0 }, "watch: give exactly one of key and prefix"],
    [{ op: "watch", key: "a", prefix: "a", afterIndex: 0 }, "watch: give exactly one of key and prefix"],
    [{ op: "watch", key: "a" }, "watch: afterIndex must be a whole number"],
    [{ op: "watch", key: "a", afterIndex: 1, since: 2 }, 'watch: unknown field "since"'],
  ])("query %j", (query, message) => {
    const reply = new KvStore().read(query) as { readonly [k: string]: Json };
    expect(reply).toMatchObject({ ok: false, index: 0, error: "malformed" });
    expect(reply["message"]).toContain(message);
  });
});

describe("sessions", () => {
  const A = 1; // the session opened at index 1
  const B = 2;

  it("a retried request gets the saved reply and does not apply again, even after other writes", () => {
    const store = new KvStore();
    applyAll(store, [Kv.openSession(), Kv.openSession()]);
    const first = store.apply(3, Kv.withSession(Kv.put("x", "A1"), A, 1));
    store.apply(4, Kv.withSession(Kv.put("x", "B1"), B, 1));
    expect(store.apply(5, Kv.withSession(Kv.put("x", "A1"), A, 1))).toEqual(first);
    expect(store.read(Kv.get("x"))).toMatchObject({ kv: { value: "B1", modIndex: 4 } });
    expect(store.read(Kv.watchKey("x", 0))).toMatchObject({ events: [{ modIndex: 3 }, { modIndex: 4 }] });
  });

  it("a retried cas replays its first verdict instead of failing against its own write", () => {
    const store = new KvStore();
    store.apply(1, Kv.openSession());
    const cas = Kv.withSession(Kv.cas("lock", null, "me"), A, 1);
    expect(store.apply(2, cas)).toEqual({ ok: true, index: 2, prev: null, swapped: true });
    expect(store.apply(3, cas)).toEqual({ ok: true, index: 2, prev: null, swapped: true });
  });

  it("requests may skip numbers; an older number is stale", () => {
    const store = new KvStore();
    store.apply(1, Kv.openSession());
    store.apply(2, Kv.withSession(Kv.put("x", "1"), A, 1));
    expect(store.apply(3, Kv.withSession(Kv.put("x", "5"), A, 5))).toEqual({ ok: true, index: 3, prev: "1" });
    expect(store.apply(4, Kv.withSession(Kv.put("x", "2"), A, 2))).toMatchObject({
      ok: false,
      index: 4,
      error: "session-stale",
      message: "request 2 of session 1 is older than request 5, the latest applied: its reply is gone",
    });
    expect(store.read(Kv.get("x"))).toMatchObject({ kv: { value: "5" } });
  });

  it("a write under a session never opened, or closed, is refused", () => {
    const store = new KvStore();
    expect(store.apply(1, Kv.withSession(Kv.put("x", "1"), 9, 1))).toMatchObject({ ok: false, error: "session-unknown" });
    store.apply(2, Kv.openSession());
    store.apply(3, Kv.closeSession(2));
    expect(store.apply(4, Kv.withSession(Kv.put("x", "1"), 2, 1))).toEqual({
      ok: false,
      index: 4,
      error: "session-unknown",
      message: "session 2 is not open (expired, evicted, closed or never opened): open a new one",
    });
    expect(store.read(Kv.get("x"))).toMatchObject({ kv: null });
  });

  it("opening one session too many evicts the least recently used", () => {
    const store = storeWith({ sessionsMax: 2 });
    applyAll(store, [Kv.openSession(), Kv.openSession()]);
    store.apply(3, Kv.withSession(Kv.put("x", "1"), A, 1)); // A is now the most recent
    store.apply(4, Kv.openSession()); // evicts B
    expect(store.apply(5, Kv.withSession(Kv.put("x", "2"), B, 1))).toMatchObject({ error: "session-unknown" });
    expect(store.apply(6, Kv.withSession(Kv.put("x", "3"), A, 2))).toMatchObject({ ok: true });
    expect(store.apply(7, Kv.withSession(Kv.put("x", "4"), 4, 1))).toMatchObject({ ok: true });
  });

  it("a session idle longer than sessionIdleMsMax on the cluster clock expires; activity and retries keep it", () => {
    const store = storeWith({ sessionIdleMsMax: 100 });
    applyAll(store, [stampTime(Kv.openSession(), 1000), stampTime(Kv.openSession(), 1000)]);
    store.apply(3, stampTime(Kv.withSession(Kv.put("x", "1"), A, 1), 1090));
    store.apply(4, stampTime(Kv.withSession(Kv.put("x", "1"), A, 1), 1150)); // a retry is activity
    store.apply(5, Kv.tick(1100)); // clocks of earlier leaders do not move time back
    store.apply(6, Kv.tick(1101)); // B idle 101 ms: gone; A idle 0
    expect(store.apply(7, Kv.withSession(Kv.put("y", "1"), B, 1))).toMatchObject({ error: "session-unknown" });
    expect(store.apply(8, stampTime(Kv.withSession(Kv.put("y", "2"), A, 2), 1250))).toMatchObject({ ok: true });
    // The command that moves time past the idle limit expires its own session first.
    expect(store.apply(9, stampTime(Kv.withSession(Kv.put("y", "3"), A, 3), 1351))).toMatchObject({ error: "session-unknown" });
  });

  it("without times, sessions never expire by idleness", () => {
    const store = storeWith({ sessionIdleMsMax: 1 });
    store.apply(1, Kv.openSession());
    store.apply(1000, Kv.withSession(Kv.put("x", "1"), A, 1));
    expect(store.apply(1001, Kv.withSession(Kv.put("x", "2"), A, 2))).toMatchObject({ ok: true });
  });
});

describe("registry", () => {
  it("a lease ends at the first command whose time reaches it, as a deletion watchers see", () => {
    const store = new KvStore();
    store.apply(1, stampTime(Kv.register("redis-primary", "10.0.0.1:6379", 500), 1000));
    store.apply(2, Kv.register("gateway", "g1"));
    expect(store.read(Kv.lookup("redis-primary"))).toMatchObject({ kv: { value: "10.0.0.1:6379", leaseUntilMs: 1500 } });
    store.apply(3, Kv.tick(1499));
    expect(store.read(Kv.lookup("redis-primary"))).toMatchObject({ kv: { value: "10.0.0.1:6379" } });
    store.apply(4, Kv.tick(1500));
    expect(store.read(Kv.lookup("redis-primary"))).toEqual({ ok: true, index: 4, kv: null });
    expect(store.read(Kv.lookup("gateway"))).toMatchObject({ kv: { value: "g1" } });
    expect(store.read(Kv.watchPrefix("registry/", 2))).toEqual({ ok: true, index: 4, events: [{ key: "registry/redis-primary", value: null, modIndex: 4 }] });
  });

  it("re-registering the same address renews the lease without a change; another address is a change", () => {
    const store = new KvStore();
    store.apply(1, stampTime(Kv.register("s", "h1", 100), 0));
    store.apply(2, stampTime(Kv.register("s", "h1", 100), 80));
    expect(store.read(Kv.lookup("s"))).toMatchObject({ kv: { modIndex: 1, leaseUntilMs: 180 } });
    expect(store.read(Kv.watchKey("registry/s", 1))).toBeNull();
    store.apply(3, Kv.tick(150));
    expect(store.read(Kv.lookup("s"))).toMatchObject({ kv: { value: "h1" } });
    store.apply(4, Kv.register("s", "h1")); // no ttl: the lease goes
    store.apply(5, Kv.tick(10_000));
    expect(store.read(Kv.lookup("s"))).toMatchObject({ kv: { value: "h1", leaseUntilMs: null } });
    store.apply(6, Kv.register("s", "h2", 10));
    expect(store.read(Kv.watchKey("registry/s", 5))).toMatchObject({ events: [{ value: "h2", modIndex: 6 }] });
  });

  it("a put over a leased key drops the lease; deregister deletes", () => {
    const store = new KvStore();
    store.apply(1, Kv.register("s", "h1", 10));
    store.apply(2, Kv.put("registry/s", "h9"));
    store.apply(3, Kv.tick(100));
    expect(store.read(Kv.lookup("s"))).toMatchObject({ kv: { value: "h9", leaseUntilMs: null } });
    expect(store.apply(4, Kv.deregister("s"))).toEqual({ ok: true, index: 4, prev: "h9" });
  });

  it("leases ending together are deleted at one index, in key order", () => {
    const store = new KvStore();
    applyAll(store, [Kv.register("b", "1", 5), Kv.register("a", "1", 5), Kv.register("c", "1", 9), Kv.tick(6)]);
    expect(store.read(Kv.watchPrefix("registry/", 3))).toEqual({
      ok: true,
      index: 4,
      events: [
        { key: "registry/a", value: null, modIndex: 4 },
        { key: "registry/b", value: null, modIndex: 4 },
      ],
    });
  });
});

describe("list", () => {
  const store = new KvStore();
  applyAll(store, ["b", "a/2", "a/10", "a/1", "ab", "a/"].map((k) => Kv.put(k, k)));
  const keys = (reply: Json | null) => (reply as { kvs: { key: string }[] }).kvs.map((r) => r.key);

  it("returns the keys under a prefix, sorted by code unit, with the index read at", () => {
    const reply = store.read(Kv.list("a/"));
    expect(keys(reply)).toEqual(["a/", "a/1", "a/10", "a/2"]);
    expect(reply).toMatchObject({ ok: true, index: 6, more: false });
    expect(keys(store.read(Kv.list("")))).toEqual(["a/", "a/1", "a/10", "a/2", "ab", "b"]);
  });

  it("pages with limit and after", () => {
    expect(store.read(Kv.list("a", { limit: 2 }))).toMatchObject({ more: true, kvs: [{ key: "a/" }, { key: "a/1" }] });
    expect(store.read(Kv.list("a", { after: "a/1", limit: 2 }))).toMatchObject({ more: true, kvs: [{ key: "a/10" }, { key: "a/2" }] });
    expect(keys(store.read(Kv.list("a", { after: "a/2", limit: 2 })))).toEqual(["ab"]);
  });
});

describe("watch", () => {
  it("returns null until a change after afterIndex under the key or prefix, then the changes in order", () => {
    const store = new KvStore();
    store.apply(1, Kv.put("svc/a", "1"));
    expect(store.read(Kv.watchKey("svc/a", 1))).toBeNull();
    store.apply(2, Kv.put("other", "x"));
    store.apply(3, Kv.delete("nothing-here"));
    expect(store.read(Kv.watchPrefix("svc/", 1))).toBeNull();
    store.apply(4, Kv.put("svc/b", "2"));
    store.apply(5, Kv.delete("svc/a"));
    expect(store.read(Kv.watchPrefix("svc/", 1))).toEqual({
      ok: true,
      index: 5,
      events: [
        { key: "svc/b", value: "2", modIndex: 4 },
        { key: "svc/a", value: null, modIndex: 5 },
      ],
    });
    expect(store.read(Kv.watchKey("svc/a", 0))).toMatchObject({ events: [{ modIndex: 1 }, { modIndex: 5 }] });
    expect(store.read(Kv.watchKey("svc/a", 5))).toBeNull();
    expect(store.read(Kv.watchKey("svc", 0))).toBeNull(); // a key watch is exact
  });

  it("answers compacted for an index older than the kept history", () => {
    const store = storeWith({ historyMax: 2 });
    applyAll(store, [Kv.put("a", "1"), Kv.put("a", "2"), Kv.put("b", "1"), Kv.put("b", "2")]);
    expect(store.read(Kv.watchKey("a", 1))).toEqual({
      ok: false,
      index: 4,
      error: "compacted",
      message: "changes after index 1 are no longer kept (kept: after 2); read again and watch from the read's index",
      compactedIndex: 2,
    });
    expect(store.read(Kv.watchKey("a", 2))).toBeNull();
    expect(store.read(Kv.watchKey("b", 2))).toMatchObject({ events: [{ modIndex: 3 }, { modIndex: 4 }] });
  });

  it("stops at watchEventsMax without splitting one index's changes; the client resumes after the index given", () => {
    const store = storeWith({ watchEventsMax: 2 });
    applyAll(store, [Kv.put("k/1", "x"), Kv.register("a", "1", 5), Kv.register("b", "1", 5), Kv.register("c", "1", 5), Kv.tick(9), Kv.put("k/2", "y")]);
    const first = store.read(Kv.watchPrefix("", 0));
    expect(first).toMatchObject({ index: 2, events: [{ modIndex: 1 }, { modIndex: 2 }] });
    const second = store.read(Kv.watchPrefix("", 2));
    expect(second).toMatchObject({ index: 4, events: [{ modIndex: 3 }, { modIndex: 4 }] });
    const third = store.read(Kv.watchPrefix("registry/", 4)) as WatchReply;
    expect(third.events).toHaveLength(3); // three lease ends at index 5, kept together
    expect(third.index).toBe(5);
    expect(store.read(Kv.watchPrefix("", 5))).toEqual({ ok: true, index: 6, events: [{ key: "k/2", value: "y", modIndex: 6 }] });
  });
});

describe("snapshots", () => {
  function busyStore(): KvStore {
    const store = storeWith({ historyMax: 3 });
    applyAll(store, [
      stampTime(Kv.openSession(), 10),
      Kv.withSession(Kv.put("b", "1"), 1, 1),
      Kv.register("z", "h", 50),
      Kv.cas("a", null, "0"),
      Kv.delete("b"),
    ]);
    return store;
  }

  it("are JSON with sorted keys everywhere, so replicas compare them as text", () => {
    const snap = busyStore().snapshot();
    const sortedText = JSON.stringify(snap, (_k, v: unknown) =>
      v !== null && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v,
    );
    expect(JSON.stringify(snap)).toBe(sortedText);
    expect(snap).toMatchObject({ format: "faultline-kv/1", appliedIndex: 5, clockMs: 10, compactedIndex: 2 });
  });

  it("restore then snapshot gives the same text, and restore replaces everything", () => {
    const source = busyStore();
    const target = new KvStore();
    applyAll(target, [Kv.put("stale", "1"), Kv.openSession()]);
    target.restore(JSON.parse(text(source)) as Json);
    expect(text(target)).toBe(text(source));
    expect(target.read(Kv.get("stale"))).toEqual({ ok: true, index: 5, kv: null });
  });

  it.each<[string, (s: { [k: string]: Json }) => Json, string]>([
    ["not an object", () => [], "invalid kv snapshot: snapshot must be a JSON object"],
    ["another format", (s) => ({ ...s, format: "kv/0" }), 'format must be "faultline-kv/1"'],
    ["a missing part", ({ history: _h, ...s }) => s, "history must be an array"],
    ["unsorted keys", (s) => ({ ...s, kvs: [...(s["kvs"] as Json[])].reverse() }), "kvs must be sorted by key, without repeats"],
    ["an index past appliedIndex", (s) => ({ ...s, appliedIndex: 1 }), "must be a whole number from 1 to 1"],
  ])("a bad snapshot (%s) throws a clear error and changes nothing", (_name, mangle, message) => {
    const store = busyStore();
    const before = text(store);
    const bad = mangle(store.snapshot() as { [k: string]: Json });
    expect(() => store.restore(bad)).toThrow(message);
    expect(text(store)).toBe(before);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const KEYS = ["a", "ab", "b", "registry/s", "registry/t"];
const VALUES = ["1", "2", "3"];
/** Small limits so random runs reach eviction, expiry, compaction and truncation. */
const TIGHT: Partial<KvLimits> = { sessionsMax: 3, sessionIdleMsMax: 100, historyMax: 6, listMax: 3, watchEventsMax: 2 };

const key = fc.constantFrom(...KEYS);
const value = fc.constantFrom(...VALUES);
const orNull = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
const write: fc.Arbitrary<Json> = fc.oneof(
  fc.tuple(key, value).map(([k, v]) => Kv.put(k, v)),
  key.map((k) => Kv.delete(k)),
  fc.tuple(key, orNull(value), orNull(value)).map(([k, e, v]) => Kv.cas(k, e, v)),
  fc.tuple(fc.constantFrom("s", "t"), value, fc.option(fc.integer({ min: 1, max: 60 }), { nil: undefined })).map(([s, a, ttl]) => Kv.register(s, a, ttl)),
);
const prefix = fc.constantFrom("", "a", "registry/");

/**
 * One log entry before its index is known. Session writes and closes name "the n-th latest
 * session opened" (a session's id is the index that opened it) and ask for the next request
 * number, a retry of the last, or an older one, so random logs exercise replays and stale requests.
 */
type Step =
  | { readonly kind: "command"; readonly command: Json }
  | { readonly kind: "session-write"; readonly write: Json; readonly nth: number; readonly seq: "next" | "retry" | "older" }
  | { readonly kind: "close"; readonly nth: number }
  | { readonly kind: "tick" };
/** A read after the entry; watches look back `back` indexes from the entry's. */
type Read = { readonly query: Json } | { readonly key?: string; readonly prefix?: string; readonly back: number };
/** `gap`: Raft's own entries (no-ops, configuration) leave gaps in the indexes the store sees. `dtMs`: the stamping leader's clock moved (maybe back). */
type Entry = { readonly step: Step; readonly gap: number; readonly dtMs: number | null; readonly read: Read };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: write.map((command) => ({ kind: "command", command }) as const) },
  {
    weight: 5,
    arbitrary: fc
      .tuple(write, fc.nat(3), fc.constantFrom("next", "next", "retry", "older") as fc.Arbitrary<"next" | "retry" | "older">)
      .map(([w, nth, seq]) => ({ kind: "session-write", write: w, nth, seq }) as const),
  },
  { weight: 3, arbitrary: fc.constant({ kind: "command", command: Kv.openSession() } as const) },
  { weight: 1, arbitrary: fc.nat(3).map((nth) => ({ kind: "close", nth }) as const) },
  { weight: 1, arbitrary: fc.constant({ kind: "tick" } as const) },
  { weight: 1, arbitrary: (fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<Json>).map((command) => ({ kind: "command", command }) as const) },
);
const read: fc.Arbitrary<Read> = fc.oneof(
  key.map((k) => ({ query: Kv.get(k) })),
  fc.tuple(prefix, fc.option(key, { nil: undefined })).map(([p, after]) => ({ query: Kv.list(p, after === undefined ? {} : { after }) })),
  fc.tuple(key, fc.nat(30)).map(([k, back]) => ({ key: k, back })),
  fc.tuple(prefix, fc.nat(30)).map(([p, back]) => ({ prefix: p, back })),
);
const entries = fc.array(
  fc.record({ step, gap: fc.integer({ min: 1, max: 2 }), dtMs: fc.option(fc.integer({ min: -5, max: 15 }), { nil: null }), read }),
  { maxLength: 60, size: "max" },
);

/** One entry made concrete: its index, the command and the read after it. */
type Log = readonly (readonly [index: number, command: Json, query: Json])[];

/** Resolves entries to commands at indexes from 1; with `timed` false, only ticks carry a time. */
function concretize(list: readonly Entry[], timed = true): Log {
  const opened: number[] = [];
  const seqs = new Map<number, number>();
  let index = 0;
  let clockMs = 0;
  const sessionId = (nth: number) => (opened.length === 0 ? 999 : (opened[opened.length - 1 - (nth % opened.length)] as number));
  return list.map(({ step: s, gap, dtMs, read: r }) => {
    index += gap;
    clockMs = Math.max(0, clockMs + (dtMs ?? 0));
    let command: Json;
    if (s.kind === "tick") command = Kv.tick(clockMs);
    else if (s.kind === "close") command = Kv.closeSession(sessionId(s.nth));
    else if (s.kind === "command") command = s.command;
    else {
      const clientId = sessionId(s.nth);
      const last = seqs.get(clientId) ?? 0;
      const seq = s.seq === "next" ? last + 1 : s.seq === "retry" ? Math.max(last, 1) : Math.max(last - 1, 1);
      seqs.set(clientId, Math.max(last, seq));
      command = { ...(s.write as object), session: { clientId, seq } };
    }
    if (s.kind === "command" && (s.command as { op?: string } | null)?.op === "session-open") opened.push(index);
    if (timed && dtMs !== null && s.kind !== "tick") command = stampTime(command, clockMs);
    const query = "query" in r ? r.query : { op: "watch", ...("key" in r ? { key: r.key } : { prefix: r.prefix ?? "" }), afterIndex: Math.max(0, index - r.back) };
    return [index, command, query] as const;
  });
}

/** Applies each entry and reads after it; returns every reply and read, as text. */
function play(store: KvStore, log: Log): string[] {
  const out: string[] = [];
  for (const [index, c, q] of log) {
    out.push(JSON.stringify(store.apply(index, c)));
    out.push(JSON.stringify(store.read(q)));
  }
  return out;
}

describe("properties", () => {
  it("two replicas given the same log (one through a JSON round trip) give the same replies, reads and snapshot text", () => {
    fc.assert(
      fc.property(entries, (list) => {
        const log = concretize(list);
        const a = storeWith(TIGHT);
        const b = storeWith(TIGHT);
        expect(play(b, JSON.parse(JSON.stringify(log)) as Log)).toEqual(play(a, log));
        expect(text(b)).toBe(text(a));
      }),
    );
  });

  it("snapshot → restore into a fresh replica → continue equals continuing", () => {
    fc.assert(
      fc.property(entries, fc.nat(), (list, cut) => {
        const log = concretize(list);
        const before = log.slice(0, cut % (log.length + 1));
        const after = log.slice(before.length);
        const original = storeWith(TIGHT);
        play(original, before);
        const copy = storeWith(TIGHT);
        copy.restore(JSON.parse(text(original)) as Json);
        expect(text(copy)).toBe(text(original));
        expect(play(copy, after)).toEqual(play(original, after));
        expect(text(copy)).toBe(text(original));
      }),
    );
  });

  it("a retried (clientId, seq) never applies twice: retries leave the data as if only first attempts were in the log", () => {
    // Sessions 1..3 open at indexes 1..3; each client numbers its writes 1, 2, …; some requests
    // are appended again later (a client retrying after a lost reply, or a leader change).
    const clientWrites = fc.array(fc.tuple(fc.integer({ min: 1, max: 3 }), write), { minLength: 1, maxLength: 30 });
    fc.assert(
      fc.property(clientWrites, fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 20 }), (writes, retries) => {
        const seqs = new Map<number, number>();
        const requests: Json[] = writes.map(([id, w]) => {
          const seq = (seqs.get(id) ?? 0) + 1;
          seqs.set(id, seq);
          return { ...(w as object), session: { clientId: id, seq } };
        });
        // The log with retries: a request re-appended somewhere after its first copy.
        const withRetries: { request: Json; first: number }[] = requests.map((request, i) => ({ request, first: i }));
        for (const [which, where] of retries) {
          const i = which % requests.length;
          const pos = withRetries.findIndex((r) => r.first === i);
          withRetries.splice(pos + 1 + (where % (withRetries.length - pos)), 0, { request: requests[i] as Json, first: i });
        }
        const retried = storeWith();
        const clean = storeWith();
        const opens = [Kv.openSession(), Kv.openSession(), Kv.openSession()];
        applyAll(retried, opens);
        applyAll(clean, opens);
        const firstReply = new Map<number, Json>();
        withRetries.forEach(({ request, first }, n) => {
          const index = 4 + n;
          const reply = retried.apply(index, request);
          if (!firstReply.has(first)) {
            firstReply.set(first, reply);
            clean.apply(index, request);
          } else if ((reply as { error?: string }).error !== "session-stale") {
            expect(reply).toEqual(firstReply.get(first));
          }
        });
        const data = (s: KvStore) => {
          const { kvs, history } = s.snapshot() as { readonly [k: string]: Json };
          return { kvs, history };
        };
        expect(data(retried)).toEqual(data(clean));
      }),
    );
  });

  it("watches report exactly the changes after afterIndex (a diff of reads), or compacted when those are gone", () => {
    // Commands carry no time, so only ticks end leases: no index both ends a lease and writes, and
    // a diff of two consecutive full reads shows every change of an index (in key order).
    type Change = { key: string; value: string | null; modIndex: number };
    fc.assert(
      fc.property(entries, fc.integer({ min: 1, max: 8 }), fc.nat(60), fc.constantFrom("", "a", "registry/", "b"), (list, historyMax, afterIndex, watched) => {
        const store = storeWith({ ...TIGHT, historyMax, watchEventsMax: 1000, listMax: 1000 });
        const changes: Change[] = [];
        let seen = new Map<string, KvRecord>();
        for (const [index, c] of concretize(list, false)) {
          store.apply(index, c);
          const now = new Map((store.read(Kv.list("", { limit: 1000 })) as ListReply).kvs.map((r) => [r.key, r]));
          for (const k of [...new Set([...seen.keys(), ...now.keys()])].sort()) {
            const is = now.get(k);
            if (is !== undefined && is.modIndex !== seen.get(k)?.modIndex) changes.push({ key: k, value: is.value, modIndex: index });
            if (is === undefined) changes.push({ key: k, value: null, modIndex: index });
          }
          seen = now;
        }
        const compactedIndex = changes.at(-historyMax - 1)?.modIndex ?? 0;
        const reply = store.read(Kv.watchPrefix(watched, afterIndex));
        if (afterIndex < compactedIndex) {
          expect(reply).toMatchObject({ ok: false, error: "compacted", compactedIndex });
          return;
        }
        const expected = changes.filter((e) => e.modIndex > afterIndex && e.key.startsWith(watched));
        expect(reply).toEqual(expected.length === 0 ? null : { ok: true, index: store.index, events: expected });
      }),
    );
  });
});
