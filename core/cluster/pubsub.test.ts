// PubSub against Redis 7.0's pubsub.c: confirmation shapes and counts, delivery order and receiver
// counts, slot clean-up for shard channels, PUBSUB introspection with Redis's exact errors, and a
// model test comparing random subscribe/unsubscribe/publish sequences with a plain reference.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Plain, plain } from "../keyspace/plain.js";
import { globMatch } from "../keyspace/glob.js";
import type { RespValue } from "../resp/codec.js";
import { type ClientId, type Delivery, PubSub, type SubKind, allowedWhileSubscribed, subscribedModeError } from "./pubsub.js";
import { keySlot } from "./slots.js";

/** A push message as plain data; anything but a push fails the test. */
function pushed(v: RespValue): Plain[] {
  if (v.type !== "push") throw new Error(`expected a push, got ${v.type}`);
  return v.value.map(plain);
}

const pushes = (vs: readonly RespValue[]): Plain[][] => vs.map(pushed);
const delivered = (ds: readonly Delivery[]): Plain[][] => ds.map((d) => [d.client, ...pushed(d.msg)]);

describe("subscribe confirmations", () => {
  it("carry the kind's word, the name and the kind's count, one per name, in order", () => {
    const ps = new PubSub();
    const script: [SubKind, string[], Plain[][]][] = [
      ["channel", ["a", "b"], [["subscribe", "a", 1], ["subscribe", "b", 2]]],
      ["pattern", ["p*"], [["psubscribe", "p*", 3]]],
      ["shard", ["s1"], [["ssubscribe", "s1", 1]]],
      ["channel", ["a"], [["subscribe", "a", 3]]],
      ["shard", ["s1", "s2"], [["ssubscribe", "s1", 1], ["ssubscribe", "s2", 2]]],
      ["pattern", ["p*", "q?", "q?"], [["psubscribe", "p*", 3], ["psubscribe", "q?", 4], ["psubscribe", "q?", 4]]],
      ["channel", ["p*"], [["subscribe", "p*", 5]]],
    ];
    for (const [kind, names, expected] of script) expect(pushes(ps.subscribe("c", kind, names)), `${kind} ${names.join(" ")}`).toEqual(expected);
    expect([ps.count("c"), ps.shardCount("c")]).toEqual([5, 2]);
    expect(ps.subscriptionsOf("c")).toEqual({ channels: 3, patterns: 2, shard: 2 });
    expect(ps.stats()).toEqual({ channels: 3, patterns: 2, shardChannels: 2 });
  });

  it("keep one subscription when a client subscribes twice", () => {
    const ps = new PubSub();
    ps.subscribe("c1", "channel", ["a"]);
    ps.subscribe("c1", "channel", ["a"]);
    ps.subscribe("c2", "channel", ["a"]);
    expect(plain(ps.command(["NUMSUB", "a"]))).toEqual(["a", 2]);
    const { deliveries, receivers } = ps.publish("a", "m");
    expect(delivered(deliveries)).toEqual([["c1", "message", "a", "m"], ["c2", "message", "a", "m"]]);
    expect(receivers).toBe(2);
  });

  it("carry byte strings through unchanged", () => {
    const ps = new PubSub();
    const channel = "\xff\x00ch";
    const [confirm] = ps.subscribe("c", "channel", [channel]);
    const name = confirm?.type === "push" ? confirm.value[1] : undefined;
    expect(name?.type === "bulk" ? Array.from(name.value) : null).toEqual([0xff, 0, 0x63, 0x68]);
    expect(delivered(ps.publish(channel, "\x80").deliveries)).toEqual([["c", "message", channel, "\x80"]]);
  });
});

describe("unsubscribe", () => {
  it("confirms every name, all in subscription order, and a null name when there is nothing", () => {
    const ps = new PubSub();
    ps.subscribe("c", "channel", ["z", "a", "b"]);
    ps.subscribe("c", "pattern", ["p"]);
    const script: [SubKind, string[], Plain[][]][] = [
      ["channel", ["z"], [["unsubscribe", "z", 3]]],
      ["channel", [], [["unsubscribe", "a", 2], ["unsubscribe", "b", 1]]],
      // Nothing left of the kind: one notice, null name, the classic count (the pattern is still there).
      ["channel", [], [["unsubscribe", null, 1]]],
      ["channel", ["never", "z"], [["unsubscribe", "never", 1], ["unsubscribe", "z", 1]]],
      ["pattern", [], [["punsubscribe", "p", 0]]],
      ["pattern", [], [["punsubscribe", null, 0]]],
      ["shard", [], [["sunsubscribe", null, 0]]],
    ];
    for (const [kind, names, expected] of script) expect(pushes(ps.unsubscribe("c", kind, names)), `${kind} ${names.join(" ")}`).toEqual(expected);
    expect(ps.count("c")).toBe(0);
    expect(ps.stats()).toEqual({ channels: 0, patterns: 0, shardChannels: 0 });
  });

  it("counts shard and classic subscriptions apart", () => {
    const ps = new PubSub();
    ps.subscribe("c", "shard", ["s"]);
    ps.subscribe("c", "channel", ["a"]);
    expect(pushes(ps.unsubscribe("c", "shard", []))).toEqual([["sunsubscribe", "s", 0]]);
    expect([ps.count("c"), ps.shardCount("c")]).toEqual([1, 0]);
    expect(pushes(ps.unsubscribe("c", "shard", ["a"]))).toEqual([["sunsubscribe", "a", 0]]);
    expect(pushes(ps.unsubscribe("c", "channel", ["a"]))).toEqual([["unsubscribe", "a", 0]]);
  });

  it("answers a client that never subscribed", () => {
    const ps = new PubSub();
    expect(pushes(ps.unsubscribe("nobody", "pattern", ["x", "y"]))).toEqual([["punsubscribe", "x", 0], ["punsubscribe", "y", 0]]);
    expect(pushes(ps.unsubscribe("nobody", "channel", []))).toEqual([["unsubscribe", null, 0]]);
  });
});

describe("publish", () => {
  it("reaches channel subscribers, then each matching pattern's subscribers with pmessage", () => {
    const ps = new PubSub();
    ps.subscribe("c1", "pattern", ["news.*"]);
    ps.subscribe("c2", "pattern", ["n?ws.[a-c]rt"]);
    ps.subscribe("c3", "channel", ["news.art"]);
    ps.subscribe("c4", "pattern", ["news.*"]);
    ps.subscribe("c5", "pattern", ["sport.*"]);
    const { deliveries, receivers } = ps.publish("news.art", "hi");
    expect(delivered(deliveries)).toEqual([
      ["c3", "message", "news.art", "hi"],
      ["c1", "pmessage", "news.*", "news.art", "hi"],
      ["c4", "pmessage", "news.*", "news.art", "hi"],
      ["c2", "pmessage", "n?ws.[a-c]rt", "news.art", "hi"],
    ]);
    expect(receivers).toBe(4);
    expect(ps.publish("weather", "x")).toEqual({ deliveries: [], receivers: 0 });
  });

  it("reaches a client once per matching subscription, and counts each", () => {
    const ps = new PubSub();
    ps.subscribe("c", "channel", ["x"]);
    ps.subscribe("c", "pattern", ["x*", "*", "y*"]);
    const { deliveries, receivers } = ps.publish("x", "m");
    expect(delivered(deliveries)).toEqual([
      ["c", "message", "x", "m"],
      ["c", "pmessage", "x*", "x", "m"],
      ["c", "pmessage", "*", "x", "m"],
    ]);
    expect(receivers).toBe(3);
  });

  it("walks patterns in creation order: a pattern re-created goes last", () => {
    const ps = new PubSub();
    ps.subscribe("c", "pattern", ["a*", "*"]);
    ps.unsubscribe("c", "pattern", ["a*"]);
    ps.subscribe("c", "pattern", ["a*"]);
    expect(delivered(ps.publish("ab", "m").deliveries).map((d) => d[2])).toEqual(["*", "a*"]);
  });

  it("spublish reaches shard subscribers only, and publish never reaches them", () => {
    const ps = new PubSub();
    ps.subscribe("c1", "shard", ["s"]);
    ps.subscribe("c2", "channel", ["s"]);
    ps.subscribe("c3", "pattern", ["*"]);
    ps.subscribe("c4", "shard", ["s"]);
    const sp = ps.spublish("s", "m");
    expect(delivered(sp.deliveries)).toEqual([["c1", "smessage", "s", "m"], ["c4", "smessage", "s", "m"]]);
    expect(sp.receivers).toBe(2);
    expect(delivered(ps.publish("s", "m").deliveries)).toEqual([["c2", "message", "s", "m"], ["c3", "pmessage", "*", "s", "m"]]);
    expect(ps.spublish("t", "m")).toEqual({ deliveries: [], receivers: 0 });
  });
});

describe("dropShardSlots", () => {
  const slots: Record<string, number> = { a: 1, b: 2, c: 2, d: 3 };
  const slotOf = (channel: string): number => slots[channel] ?? 0;

  it("unsubscribes every shard channel in a lost slot, by slot then name, and stops delivery", () => {
    const ps = new PubSub();
    ps.subscribe("c1", "shard", ["c", "a", "b", "d"]);
    ps.subscribe("c2", "shard", ["b"]);
    ps.subscribe("c2", "channel", ["b"]);
    const lost = (slot: number): boolean => slot === 1 || slot === 2;
    expect(delivered(ps.dropShardSlots(lost, slotOf))).toEqual([
      ["c1", "sunsubscribe", "a", 3],
      ["c1", "sunsubscribe", "b", 2],
      ["c2", "sunsubscribe", "b", 0],
      ["c1", "sunsubscribe", "c", 1],
    ]);
    expect(ps.spublish("a", "m").receivers).toBe(0);
    expect(ps.spublish("b", "m").receivers).toBe(0);
    expect(delivered(ps.spublish("d", "m").deliveries)).toEqual([["c1", "smessage", "d", "m"]]);
    expect(ps.publish("b", "m").receivers).toBe(1);
    expect([ps.shardCount("c1"), ps.shardCount("c2"), ps.count("c2")]).toEqual([1, 0, 1]);
    expect(plain(ps.command(["SHARDCHANNELS"]))).toEqual(["d"]);
    expect(ps.dropShardSlots(lost, slotOf)).toEqual([]);
    // A channel dropped this way can be subscribed again.
    expect(pushes(ps.subscribe("c2", "shard", ["a"]))).toEqual([["ssubscribe", "a", 1]]);
  });

  it("works with the cluster's key slot and hash tags", () => {
    const ps = new PubSub();
    ps.subscribe("c", "shard", ["{t}x", "{t}y", "other"]);
    const tagged = keySlot("t");
    expect(keySlot("other")).not.toBe(tagged);
    expect(delivered(ps.dropShardSlots((slot) => slot === tagged, keySlot))).toEqual([
      ["c", "sunsubscribe", "{t}x", 2],
      ["c", "sunsubscribe", "{t}y", 1],
    ]);
  });
});

describe("PUBSUB", () => {
  const ps = new PubSub();
  ps.subscribe("c1", "channel", ["news.a", "news.b", "other"]);
  ps.subscribe("c2", "channel", ["news.a"]);
  ps.subscribe("c1", "pattern", ["n*", "x"]);
  ps.subscribe("c2", "pattern", ["n*"]);
  ps.subscribe("c3", "shard", ["s1", "s2"]);
  ps.subscribe("c4", "shard", ["s1"]);

  it.each<[string[], Plain]>([
    [["CHANNELS"], ["news.a", "news.b", "other"]],
    [["channels", "news.*"], ["news.a", "news.b"]],
    [["Channels", "zz*"], []],
    [["CHANNELS", "s*"], []],
    [["NUMSUB", "news.a", "other", "nope", "news.a", "s1"], ["news.a", 2, "other", 1, "nope", 0, "news.a", 2, "s1", 0]],
    [["numsub"], []],
    [["NUMPAT"], 2],
    [["SHARDCHANNELS"], ["s1", "s2"]],
    [["shardchannels", "*2"], ["s2"]],
    [["SHARDNUMSUB", "s1", "s2", "news.a"], ["s1", 2, "s2", 1, "news.a", 0]],
    [["ShardNumSub"], []],
    [[], { err: "ERR wrong number of arguments for 'pubsub' command" }],
    [["x"], { err: "ERR unknown subcommand 'x'. Try PUBSUB HELP." }],
    [["local", "channels"], { err: "ERR unknown subcommand 'local'. Try PUBSUB HELP." }],
    [["y".repeat(200)], { err: `ERR unknown subcommand '${"y".repeat(128)}'. Try PUBSUB HELP.` }],
    [["numpat", "x"], { err: "ERR wrong number of arguments for 'pubsub|numpat' command" }],
    [["HELP", "x"], { err: "ERR wrong number of arguments for 'pubsub|help' command" }],
    [["channels", "a", "b"], { err: "ERR unknown subcommand or wrong number of arguments for 'channels'. Try PUBSUB HELP." }],
    [["SHARDCHANNELS", "a", "b"], { err: "ERR unknown subcommand or wrong number of arguments for 'SHARDCHANNELS'. Try PUBSUB HELP." }],
  ])("PUBSUB %j", (args, expected) => {
    expect(plain(ps.command(args))).toEqual(expected);
  });

  it("HELP is Redis 7.0's text", () => {
    const help = plain(ps.command(["help"]));
    expect(help).toHaveLength(14);
    expect((help as Plain[])[0]).toEqual({ simple: "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:" });
    expect((help as Plain[]).slice(-2)).toEqual([{ simple: "HELP" }, { simple: "    Print this help." }]);
  });

  it("lists channels in creation order: a channel re-created goes last", () => {
    const fresh = new PubSub();
    fresh.subscribe("c", "channel", ["a", "b"]);
    fresh.unsubscribe("c", "channel", ["a"]);
    fresh.subscribe("c", "channel", ["a"]);
    expect(plain(fresh.command(["CHANNELS"]))).toEqual(["b", "a"]);
  });
});

describe("dropClient", () => {
  it("frees the client's channels, patterns and shard channels without notices", () => {
    const ps = new PubSub();
    ps.subscribe("c1", "channel", ["a", "b"]);
    ps.subscribe("c1", "pattern", ["p*"]);
    ps.subscribe("c1", "shard", ["s"]);
    ps.subscribe("c2", "channel", ["b"]);
    ps.dropClient("c1");
    ps.dropClient("never-seen");
    expect(plain(ps.command(["CHANNELS"]))).toEqual(["b"]);
    expect(plain(ps.command(["NUMPAT"]))).toBe(0);
    expect(plain(ps.command(["SHARDCHANNELS"]))).toEqual([]);
    expect(ps.stats()).toEqual({ channels: 1, patterns: 0, shardChannels: 0 });
    expect([ps.count("c1"), ps.shardCount("c1")]).toEqual([0, 0]);
    expect(ps.publish("a", "m").receivers).toBe(0);
    expect(ps.publish("pq", "m").receivers).toBe(0);
    expect(delivered(ps.publish("b", "m").deliveries)).toEqual([["c2", "message", "b", "m"]]);
    expect(pushes(ps.subscribe("c1", "channel", ["a"]))).toEqual([["subscribe", "a", 1]]);
  });
});

describe("subscribed mode", () => {
  it.each([
    ["ping", true],
    ["PING", true],
    ["subscribe", true],
    ["SSubscribe", true],
    ["psubscribe", true],
    ["unsubscribe", true],
    ["sunsubscribe", true],
    ["punsubscribe", true],
    ["quit", true],
    ["reset", true],
    ["get", false],
    ["publish", false],
    ["spublish", false],
    ["pubsub", false],
    ["pubsub|channels", false],
    ["multi", false],
    ["hello", false],
  ])("%s allowed: %s", (name, allowed) => {
    expect(allowedWhileSubscribed(name)).toBe(allowed);
  });

  it.each([
    ["get", "ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"],
    ["SET", "ERR Can't execute 'set': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"],
    ["pubsub|numsub", "ERR Can't execute 'pubsub|numsub': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"],
  ])("refuses %s", (name, text) => {
    expect(subscribedModeError(name)).toBe(text);
  });
});

// ---------------------------------------------------------------------------------------------
// Model test. Goal: any interleaving of subscribe, unsubscribe, publish, spublish, client drops
// and slot losses from a few clients gives the replies a plain reference gives. Method: the model
// keeps, per client and kind, a map name → sequence number of the subscription, and per kind the
// sequence number at which each name last went from no subscriber to one; every order the
// registry promises (subscription order, creation order, slot then name) is a sort on those.
// ---------------------------------------------------------------------------------------------

type Op =
  | { readonly t: "sub" | "unsub"; readonly client: ClientId; readonly kind: SubKind; readonly names: readonly string[] }
  | { readonly t: "pub" | "spub"; readonly channel: string; readonly message: string }
  | { readonly t: "drop"; readonly client: ClientId }
  | { readonly t: "slots"; readonly lost: readonly number[] };

const KINDS: readonly SubKind[] = ["channel", "pattern", "shard"];
const WORD: Record<SubKind, readonly [string, string]> = { channel: ["subscribe", "unsubscribe"], pattern: ["psubscribe", "punsubscribe"], shard: ["ssubscribe", "sunsubscribe"] };
const CHANNELS = ["a", "b", "ab", "ba", "\xff"];
const PATTERNS = ["*", "a*", "?b", "[ab]a", "b", "\xff*"];
const modelSlotOf = (channel: string): number => channel.length % 3;

class Model {
  private seq = 0;
  private readonly subs = new Map<ClientId, Record<SubKind, Map<string, number>>>();
  private readonly born: Record<SubKind, Map<string, number>> = { channel: new Map(), pattern: new Map(), shard: new Map() };

  private of(client: ClientId): Record<SubKind, Map<string, number>> {
    let s = this.subs.get(client);
    if (s === undefined) this.subs.set(client, (s = { channel: new Map(), pattern: new Map(), shard: new Map() }));
    return s;
  }

  count(client: ClientId, kind: SubKind): number {
    const s = this.of(client);
    return kind === "shard" ? s.shard.size : s.channel.size + s.pattern.size;
  }

  /** Clients subscribed to `name`, in subscription order. */
  private holders(kind: SubKind, name: string): ClientId[] {
    const out: [ClientId, number][] = [];
    for (const [client, s] of this.subs) {
      const at = s[kind].get(name);
      if (at !== undefined) out.push([client, at]);
    }
    return out.sort((x, y) => x[1] - y[1]).map(([c]) => c);
  }

  /** Live names of a kind, in creation order. */
  names(kind: SubKind): string[] {
    return [...this.born[kind]].sort((x, y) => x[1] - y[1]).map(([n]) => n);
  }

  subscribe(client: ClientId, kind: SubKind, names: readonly string[]): Plain[][] {
    return names.map((name) => {
      if (!this.of(client)[kind].has(name)) {
        if (this.holders(kind, name).length === 0) this.born[kind].set(name, this.seq);
        this.of(client)[kind].set(name, this.seq++);
      }
      return [WORD[kind][0], name, this.count(client, kind)];
    });
  }

  private remove(client: ClientId, kind: SubKind, name: string): void {
    this.of(client)[kind].delete(name);
    if (this.holders(kind, name).length === 0) this.born[kind].delete(name);
  }

  unsubscribe(client: ClientId, kind: SubKind, names: readonly string[]): Plain[][] {
    const mine = this.of(client)[kind];
    const which = names.length > 0 ? names : [...mine].sort((x, y) => x[1] - y[1]).map(([n]) => n);
    if (which.length === 0) return [[WORD[kind][1], null, this.count(client, kind)]];
    return which.map((name) => {
      this.remove(client, kind, name);
      return [WORD[kind][1], name, this.count(client, kind)];
    });
  }

  publish(channel: string, message: string): Plain[][] {
    const out: Plain[][] = this.holders("channel", channel).map((c) => [c, "message", channel, message]);
    for (const pattern of this.names("pattern")) {
      if (globMatch(pattern, channel)) for (const c of this.holders("pattern", pattern)) out.push([c, "pmessage", pattern, channel, message]);
    }
    return out;
  }

  spublish(channel: string, message: string): Plain[][] {
    return this.holders("shard", channel).map((c) => [c, "smessage", channel, message]);
  }

  drop(client: ClientId): void {
    for (const kind of KINDS) for (const name of [...this.of(client)[kind].keys()]) this.remove(client, kind, name);
  }

  dropSlots(lost: readonly number[]): Plain[][] {
    const doomed = this.names("shard")
      .filter((n) => lost.includes(modelSlotOf(n)))
      .sort((x, y) => modelSlotOf(x) - modelSlotOf(y) || (x < y ? -1 : 1));
    const out: Plain[][] = [];
    for (const name of doomed) {
      for (const c of this.holders("shard", name)) {
        this.remove(c, "shard", name);
        out.push([c, "sunsubscribe", name, this.count(c, "shard")]);
      }
    }
    return out;
  }
}

const clientArb = fc.constantFrom("c1", "c2", "c3");
const kindArb = fc.constantFrom<SubKind>(...KINDS);
const nameArb = fc.constantFrom(...CHANNELS, ...PATTERNS);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ t: fc.constant("sub" as const), client: clientArb, kind: kindArb, names: fc.array(nameArb, { minLength: 1, maxLength: 3 }) }),
  fc.record({ t: fc.constant("unsub" as const), client: clientArb, kind: kindArb, names: fc.array(nameArb, { maxLength: 2 }) }),
  fc.record({ t: fc.constantFrom("pub" as const, "spub" as const), channel: fc.constantFrom(...CHANNELS), message: fc.constantFrom("m", "\x00") }),
  fc.record({ t: fc.constant("drop" as const), client: clientArb }),
  fc.record({ t: fc.constant("slots" as const), lost: fc.subarray([0, 1, 2]) }),
);

describe("model", () => {
  it("agrees with the reference on random sequences from several clients", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const ps = new PubSub();
        const model = new Model();
        for (const op of ops) {
          switch (op.t) {
            case "sub":
              expect(pushes(ps.subscribe(op.client, op.kind, op.names))).toEqual(model.subscribe(op.client, op.kind, op.names));
              break;
            case "unsub":
              expect(pushes(ps.unsubscribe(op.client, op.kind, op.names))).toEqual(model.unsubscribe(op.client, op.kind, op.names));
              break;
            case "pub": {
              const { deliveries, receivers } = ps.publish(op.channel, op.message);
              expect(delivered(deliveries)).toEqual(model.publish(op.channel, op.message));
              expect(receivers).toBe(deliveries.length);
              break;
            }
            case "spub": {
              const { deliveries, receivers } = ps.spublish(op.channel, op.message);
              expect(delivered(deliveries)).toEqual(model.spublish(op.channel, op.message));
              expect(receivers).toBe(deliveries.length);
              break;
            }
            case "drop":
              ps.dropClient(op.client);
              model.drop(op.client);
              break;
            case "slots":
              expect(delivered(ps.dropShardSlots((s) => op.lost.includes(s), modelSlotOf))).toEqual(model.dropSlots(op.lost));
              break;
          }
          for (const client of ["c1", "c2", "c3"]) {
            expect([ps.count(client), ps.shardCount(client)]).toEqual([model.count(client, "channel"), model.count(client, "shard")]);
          }
          expect(plain(ps.command(["CHANNELS"]))).toEqual(model.names("channel"));
          expect(plain(ps.command(["SHARDCHANNELS"]))).toEqual(model.names("shard"));
          expect(plain(ps.command(["NUMPAT"]))).toEqual(model.names("pattern").length);
        }
      }),
      { numRuns: 300 },
    );
  });
});
