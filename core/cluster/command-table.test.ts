// The node's command table and COMMAND: Redis 7.0's exact replies (COMMAND INFO fields, COMMAND
// DOCS maps, GETKEYS, LIST filters, error texts), the key positions the router uses, and the
// table's consistency with the keyspace table it imports.

import { describe, expect, it } from "vitest";
import { COMMANDS } from "../keyspace/commands.js";
import { type Plain, plain } from "../keyspace/plain.js";
import { decodeUtf8, encodeReply, type Protocol, ReplyParser, Resp, type RespValue } from "../resp/codec.js";
import { COMMAND_TABLE, type CommandEntry, commandCommand, isWrite, keyIndexes, lookupCommand } from "./command-table.js";

const command = (...args: string[]): Plain => plain(commandCommand(args));
const err = (text: string): Plain => ({ err: text });

/** A set as plain() shows it: members sorted by their JSON. */
function set(...members: Plain[]): Plain {
  return { set: [...members].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1)) };
}
const statuses = (...names: string[]): Plain => set(...names.map((simple) => ({ simple })));
const map = (...pairs: [Plain, Plain][]): Plain => ({ map: pairs });

function rangeSpec(flags: string[], begin: Plain, lastkey: number, keystep = 1): Plain {
  return map(["flags", statuses(...flags)], ["begin_search", begin], ["find_keys", map(["type", "range"], ["spec", map(["lastkey", lastkey], ["keystep", keystep], ["limit", 0])])]);
}
const index = (i: number): Plain => map(["type", "index"], ["spec", map(["index", i])]);

/** Every entry, subcommands included. */
function allEntries(): CommandEntry[] {
  return [...COMMAND_TABLE.values()].flatMap((e) => [e, ...(e.subcommands?.values() ?? [])]);
}

/** The commands this file declares itself (the rest come from core/keyspace). */
const NODE_COMMANDS = [
  "ping", "echo", "hello", "auth", "select", "quit", "reset", "client", "command", "config", "info", "wait", "migrate",
  "multi", "exec", "discard", "watch", "unwatch", "cluster", "readonly", "readwrite", "asking",
  "publish", "spublish", "subscribe", "psubscribe", "unsubscribe", "punsubscribe", "ssubscribe", "sunsubscribe", "pubsub",
];

describe("lookupCommand", () => {
  it.each([
    [["GET", "k"], "get"],
    [["cluster", "NODES"], "cluster|nodes"],
    [["Client", "SetName", "x"], "client|setname"],
    [["COMMAND"], "command"],
    [["command", "info"], "command|info"],
    [["MIGRATE", "h", "6379", "", "0", "5000", "KEYS", "a"], "migrate"],
    [["sunsubscribe"], "sunsubscribe"],
    [["QUIT", "now", "please"], "quit"],
  ])("%j runs %s", (args, name) => {
    const found = lookupCommand(args);
    expect("entry" in found && found.entry.name).toBe(name);
  });

  it.each([
    [["nosuch", "a", "b"], "ERR unknown command 'nosuch', with args beginning with: 'a' 'b' "],
    [["get"], "ERR wrong number of arguments for 'get' command"],
    [["GET", "a", "b"], "ERR wrong number of arguments for 'get' command"],
    [["cluster"], "ERR wrong number of arguments for 'cluster' command"],
    [["cluster", "nodes", "x"], "ERR wrong number of arguments for 'cluster|nodes' command"],
    [["CONFIG", "GET"], "ERR wrong number of arguments for 'config|get' command"],
    [["command", "getkeys", "get"], "ERR wrong number of arguments for 'command|getkeys' command"],
    [["cluster", "foo"], "ERR unknown subcommand 'foo'. Try CLUSTER HELP."],
    [["Cluster", "FOO", "x"], "ERR unknown subcommand 'FOO'. Try CLUSTER HELP."],
    [["client", "kill", "id", "1"], "ERR unknown subcommand 'kill'. Try CLIENT HELP."],
    [["config", "rewrite"], "ERR unknown subcommand 'rewrite'. Try CONFIG HELP."],
    [["pubsub", "x"], "ERR unknown subcommand 'x'. Try PUBSUB HELP."],
    [["command", "x"], "ERR unknown subcommand 'x'. Try COMMAND HELP."],
    [["cluster", "x".repeat(200)], `ERR unknown subcommand '${"x".repeat(128)}'. Try CLUSTER HELP.`],
    [["migrate", "h", "1", "k", "0"], "ERR wrong number of arguments for 'migrate' command"],
  ])("%j → %s", (args, text) => {
    const found = lookupCommand(args);
    expect("error" in found && plain(found.error)).toEqual(err(text));
  });
});

describe("COMMAND INFO", () => {
  it.each<[string, Plain[]]>([
    ["get", ["get", 2, statuses("readonly", "fast"), 1, 1, 1, statuses("@read", "@string", "@fast"), set(), set(rangeSpec(["RO", "access"], index(1), 0)), set()]],
    [
      "mset",
      [
        "mset", -3, statuses("write", "denyoom"), 1, -1, 2, statuses("@write", "@string", "@slow"),
        set("request_policy:multi_shard", "response_policy:all_succeeded"), set(rangeSpec(["OW", "update"], index(1), -1, 2)), set(),
      ],
    ],
    [
      "watch",
      ["watch", -2, statuses("noscript", "loading", "stale", "fast", "allow_busy"), 1, -1, 1, statuses("@fast", "@transaction"), set(), set(rangeSpec(["RO"], index(1), -1)), set()],
    ],
    [
      "migrate",
      [
        "migrate", -6, statuses("write", "movablekeys"), 3, 3, 1, statuses("@keyspace", "@write", "@slow", "@dangerous"), set("nondeterministic_output"),
        set(
          rangeSpec(["RW", "access", "delete"], index(3), 0),
          rangeSpec(["RW", "access", "delete", "incomplete"], map(["type", "keyword"], ["spec", map(["keyword", "KEYS"], ["startfrom", -2])]), -1),
        ),
        set(),
      ],
    ],
    [
      "blpop",
      ["blpop", -3, statuses("write", "noscript", "blocking"), 1, -2, 1, statuses("@write", "@list", "@slow", "@blocking"), set(), set(rangeSpec(["RW", "access", "delete"], index(1), -2)), set()],
    ],
    ["spublish", ["spublish", 3, statuses("pubsub", "loading", "stale", "fast"), 1, 1, 1, statuses("@pubsub", "@fast"), set(), set(rangeSpec(["not_key"], index(1), 0)), set()]],
    ["ssubscribe", ["ssubscribe", -2, statuses("pubsub", "noscript", "loading", "stale"), 1, -1, 1, statuses("@pubsub", "@slow"), set(), set(rangeSpec(["not_key"], index(1), -1)), set()]],
    ["append", ["append", 3, statuses("write", "denyoom", "fast"), 1, 1, 1, statuses("@write", "@string", "@fast"), set(), set(rangeSpec(["RW", "insert"], index(1), 0)), set()]],
    ["ping", ["ping", -1, statuses("fast"), 0, 0, 0, statuses("@fast", "@connection"), set("request_policy:all_shards", "response_policy:all_succeeded"), set(), set()]],
    ["cluster|nodes", ["cluster|nodes", 2, statuses("stale"), 0, 0, 0, statuses("@slow"), set("nondeterministic_output"), set(), set()]],
    ["CLUSTER|ADDSLOTS", ["cluster|addslots", -3, statuses("admin", "stale", "no_async_loading"), 0, 0, 0, statuses("@admin", "@slow", "@dangerous"), set(), set(), set()]],
    ["client|list", ["client|list", -2, statuses("admin", "noscript", "loading", "stale"), 0, 0, 0, statuses("@admin", "@slow", "@dangerous", "@connection"), set("nondeterministic_output"), set(), set()]],
    ["info", ["info", -1, statuses("loading", "stale"), 0, 0, 0, statuses("@slow", "@dangerous"), set("nondeterministic_output", "request_policy:all_shards", "response_policy:special"), set(), set()]],
    ["flushall", ["flushall", -1, statuses("write"), 0, 0, 0, statuses("@keyspace", "@write", "@slow", "@dangerous"), set("request_policy:all_shards", "response_policy:all_succeeded"), set(), set()]],
    ["restore-asking", ["restore-asking", -4, statuses("write", "denyoom", "asking"), 1, 1, 1, statuses("@keyspace", "@write", "@slow", "@dangerous"), set(), set(rangeSpec(["OW", "update"], index(1), 0)), set()]],
  ])("%s", (name, info) => {
    expect(command("INFO", name)).toEqual([info]);
  });

  it("SET's key spec carries its notes first", () => {
    const [info] = command("INFO", "set") as Plain[][];
    expect(info?.[8]).toEqual(
      set({
        map: [
          ["notes", "RW and ACCESS due to the optional `GET` argument"],
          ["flags", statuses("RW", "access", "update", "variable_flags")],
          ["begin_search", index(1)],
          ["find_keys", map(["type", "range"], ["spec", map(["lastkey", 0], ["keystep", 1], ["limit", 0])])],
        ],
      }),
    );
  });

  it("a container lists its subcommands' entries, as an array", () => {
    const [info] = command("INFO", "cluster") as Plain[][];
    expect(info?.slice(0, 9)).toEqual(["cluster", -2, statuses(), 0, 0, 0, statuses("@slow"), set(), set()]);
    const subs = info?.[9] as Plain[][];
    expect(subs.map((s) => s[0])).toEqual([
      "cluster|addslots", "cluster|addslotsrange", "cluster|count-failure-reports", "cluster|countkeysinslot", "cluster|delslots", "cluster|delslotsrange",
      "cluster|failover", "cluster|forget", "cluster|getkeysinslot", "cluster|help", "cluster|info", "cluster|keyslot", "cluster|links", "cluster|meet",
      "cluster|myid", "cluster|nodes", "cluster|replicas", "cluster|replicate", "cluster|reset", "cluster|set-config-epoch", "cluster|setslot",
      "cluster|shards", "cluster|slaves", "cluster|slots",
    ]);
    expect(subs.find((s) => s[0] === "cluster|nodes")).toEqual((command("INFO", "cluster|nodes") as Plain[])[0]);
  });

  it("has RESP3 types Redis uses: sets of status flags, bulk tips, an empty set for no subcommands", () => {
    const items = (v: RespValue | undefined): readonly RespValue[] => {
      if (v?.type !== "array" && v?.type !== "set") throw new Error(`not an aggregate: ${v?.type}`);
      return v.value;
    };
    const [get, cluster] = items(commandCommand(["INFO", "get", "cluster"])).map(items);
    expect(get?.map((v) => v.type)).toEqual(["bulk", "integer", "set", "integer", "integer", "integer", "set", "set", "set", "set"]);
    // Redis's order inside the sets, which a RESP2 client sees.
    expect(get?.[2]).toEqual(Resp.set([Resp.simple("readonly"), Resp.simple("fast")]));
    expect(get?.[6]).toEqual(Resp.set([Resp.simple("@read"), Resp.simple("@string"), Resp.simple("@fast")]));
    expect(cluster?.[9]?.type).toBe("array");
  });

  it.each([["nosuch"], ["get|key"], ["config|get|key"], [""], ["|"], ["cluster|"], ["cluster|kill"]])("%j is a null", (name) => {
    expect(command("INFO", name)).toEqual([null]);
  });

  it("answers names in the order asked, nulls included", () => {
    const infos = command("INFO", "nosuch", "PING", "cluster|myid") as Plain[];
    expect(infos.map((i) => (i === null ? null : (i as Plain[])[0]))).toEqual([null, "ping", "cluster|myid"]);
  });

  it("with no names, and COMMAND alone, lists every command", () => {
    const all = command("INFO") as Plain[][];
    expect(all.length).toBe(command("COUNT"));
    expect(command()).toEqual(all);
    expect(all.map((i) => i[0])).toEqual([...COMMAND_TABLE.keys()]);
  });
});

describe("COMMAND COUNT and LIST", () => {
  it("COUNT is the number of top-level commands: the keyspace's and the node's", () => {
    expect(command("COUNT")).toBe(COMMAND_TABLE.size);
    expect(COMMAND_TABLE.size).toBe(COMMANDS.size + NODE_COMMANDS.length);
  });

  it("LIST names every command, each container followed by its subcommands", () => {
    const names = command("LIST") as string[];
    expect(names.length).toBe(COMMAND_TABLE.size + 6 + 24 + 7 + 4 + 6);
    expect(names.slice(names.indexOf("client"), names.indexOf("client") + 7)).toEqual([
      "client", "client|getname", "client|help", "client|id", "client|info", "client|list", "client|setname",
    ]);
    expect(names).toContain("get");
    expect(names).not.toContain("client|kill");
  });

  it.each<[string[], string[]]>([
    [["FILTERBY", "ACLCAT", "transaction"], ["discard", "exec", "multi", "unwatch", "watch"]],
    [["filterby", "aclcat", "PubSub"], [
      "psubscribe", "publish", "pubsub|channels", "pubsub|numpat", "pubsub|numsub", "pubsub|shardchannels", "pubsub|shardnumsub",
      "punsubscribe", "spublish", "ssubscribe", "subscribe", "sunsubscribe", "unsubscribe",
    ]],
    [["FILTERBY", "ACLCAT", "blocking"], ["blpop", "brpop"]],
    [["FILTERBY", "PATTERN", "CLUSTER|SL*"], ["cluster|slaves", "cluster|slots"]],
    [["FILTERBY", "PATTERN", "*pexpire*"], ["pexpire", "pexpireat", "pexpiretime"]],
    [["FILTERBY", "ACLCAT", "nosuch"], []],
    [["FILTERBY", "ACLCAT", "@read"], []],
    [["FILTERBY", "MODULE", "search"], []],
    [["FILTERBY", "ACLCAT", "admin"], [
      "client|list", "cluster|addslots", "cluster|addslotsrange", "cluster|count-failure-reports", "cluster|delslots", "cluster|delslotsrange",
      "cluster|failover", "cluster|forget", "cluster|meet", "cluster|replicas", "cluster|replicate", "cluster|reset", "cluster|set-config-epoch",
      "cluster|setslot", "cluster|slaves", "config|get", "config|resetstat", "config|set",
    ]],
  ])("LIST %j", (filter, names) => {
    expect(command("LIST", ...filter)).toEqual(names);
  });

  // Redis takes one FILTERBY, as the last three arguments: a second one is a syntax error too.
  it.each([
    [["FILTERBY"]],
    [["FILTERBY", "ACLCAT"]],
    [["FILTERBY", "ACLCAT", "read", "x"]],
    [["FOO", "a", "b"]],
    [["FILTERBY", "NAME", "x"]],
    [["FILTERBY", "PATTERN", "x*", "FILTERBY", "ACLCAT", "admin"]],
  ])("LIST %j is a syntax error", (args) => {
    expect(command("LIST", ...args)).toEqual(err("ERR syntax error"));
  });
});

describe("COMMAND GETKEYS / GETKEYSANDFLAGS", () => {
  it.each<[string[], Plain]>([
    [["GET", "k"], ["k"]],
    [["MSET", "a", "1", "b", "2"], ["a", "b"]],
    [["mset", "a", "1", "b"], ["a", "b"]],
    [["RENAME", "a", "b"], ["a", "b"]],
    [["SDIFFSTORE", "d", "a", "b"], ["d", "a", "b"]],
    [["BLPOP", "a", "b", "0"], ["a", "b"]],
    [["WATCH", "a", "b"], ["a", "b"]],
    [["SET", "k", "v", "GET"], ["k"]],
    [["MIGRATE", "h", "6379", "k", "0", "5000"], ["k"]],
    [["MIGRATE", "h", "6379", "", "0", "5000", "COPY", "KEYS", "a", "b"], ["a", "b"]],
    [["MIGRATE", "h", "6379", "k", "0", "5000", "KEYS", "a", "b"], ["k"]],
    // The key specs answer first: KEYS is searched from the second-to-last argument, so a trailing
    // KEYS is not seen and the (empty) key argument is the key, as Redis 7.0 says.
    [["MIGRATE", "h", "6379", "", "0", "5000", "KEYS"], [""]],
    [["PING", "x"], err("ERR The command has no key arguments")],
    [["CLUSTER", "INFO"], err("ERR The command has no key arguments")],
    [["SPUBLISH", "ch", "msg"], err("ERR The command has no key arguments")],
    [["SSUBSCRIBE", "a", "b"], err("ERR The command has no key arguments")],
    [["NOSUCH", "a"], err("ERR Invalid command specified")],
    [["CLUSTER", "NOSUCH"], err("ERR Invalid command specified")],
    [["GET", "a", "b"], err("ERR Invalid number of arguments specified for command")],
    [["MIGRATE", "h", "6379", "k", "0"], err("ERR Invalid number of arguments specified for command")],
  ])("GETKEYS %j", (args, keys) => {
    expect(command("GETKEYS", ...args)).toEqual(keys);
  });

  it.each<[string[], Plain]>([
    [["SET", "k", "v", "get"], [["k", statuses("RW", "access", "update")]]],
    [["SET", "k", "v", "EX", "10"], [["k", statuses("OW", "update")]]],
    [["RENAME", "a", "b"], [["a", statuses("RW", "access", "delete")], ["b", statuses("OW", "update")]]],
    [["MIGRATE", "h", "1", "", "0", "5", "KEYS", "a"], [["a", statuses("RW", "access", "delete")]]],
    [["EXISTS", "a"], [["a", statuses("RO")]]],
  ])("GETKEYSANDFLAGS %j", (args, keys) => {
    expect(command("GETKEYSANDFLAGS", ...args)).toEqual(keys);
  });

  it("needs at least a command and one argument", () => {
    expect(command("GETKEYS", "PING")).toEqual(err("ERR wrong number of arguments for 'command|getkeys' command"));
    expect(command("GETKEYSANDFLAGS")).toEqual(err("ERR wrong number of arguments for 'command|getkeysandflags' command"));
  });

  it("answers with the key arguments' bytes", () => {
    expect(command("GETKEYS", "GET", "\xff\x00k")).toEqual(["\xff\x00k"]);
  });
});

describe("COMMAND DOCS", () => {
  it("GET", () => {
    expect(command("DOCS", "get")).toEqual(
      map(["get", map(["summary", "Get the value of a key"], ["since", "1.0.0"], ["group", "string"], ["complexity", "O(1)"], ["arguments", [map(["name", "key"], ["type", "key"], ["key_spec_index", 0])]])]),
    );
  });

  it("SET: history as a set of [since, change], nested oneof arguments with tokens and flags", () => {
    const docs = (command("DOCS", "SET") as { map: [string, { map: [string, Plain][] }][] }).map[0]?.[1].map ?? [];
    expect(docs.map(([k]) => k)).toEqual(["summary", "since", "group", "complexity", "history", "arguments"]);
    expect(docs[4]?.[1]).toEqual(
      set(
        ["2.6.12", "Added the `EX`, `PX`, `NX` and `XX` options."],
        ["6.0.0", "Added the `KEEPTTL` option."],
        ["6.2.0", "Added the `GET`, `EXAT` and `PXAT` option."],
        ["7.0.0", "Allowed the `NX` and `GET` options to be used together."],
      ),
    );
    const optional = statuses("optional");
    expect(docs[5]?.[1]).toEqual([
      map(["name", "key"], ["type", "key"], ["key_spec_index", 0]),
      map(["name", "value"], ["type", "string"]),
      map(["name", "condition"], ["type", "oneof"], ["flags", optional], ["arguments", [map(["name", "nx"], ["type", "pure-token"], ["token", "NX"]), map(["name", "xx"], ["type", "pure-token"], ["token", "XX"])]]),
      map(["name", "get"], ["type", "pure-token"], ["token", "GET"], ["flags", optional]),
      map(["name", "expiration"], ["type", "oneof"], ["flags", optional], ["arguments", [
        map(["name", "seconds"], ["type", "integer"], ["token", "EX"]),
        map(["name", "milliseconds"], ["type", "integer"], ["token", "PX"]),
        map(["name", "unix-time-seconds"], ["type", "unix-time"], ["token", "EXAT"]),
        map(["name", "unix-time-milliseconds"], ["type", "unix-time"], ["token", "PXAT"]),
        map(["name", "keepttl"], ["type", "pure-token"], ["token", "KEEPTTL"]),
      ]]),
    ]);
  });

  it("MIGRATE: key_spec_index follows the key specs; an empty token, as Redis 7.0's commands.c has it", () => {
    const docs = (command("DOCS", "migrate") as { map: [string, { map: [string, Plain][] }][] }).map[0]?.[1].map ?? [];
    const args = docs.find(([k]) => k === "arguments")?.[1] as Plain[];
    const optional = statuses("optional");
    expect(args[2]).toEqual(
      map(["name", "key_or_empty_string"], ["type", "oneof"], ["arguments", [
        map(["name", "key"], ["type", "key"], ["key_spec_index", 0]),
        map(["name", "empty_string"], ["type", "pure-token"], ["token", ""]),
      ]]),
    );
    expect(args[7]).toEqual(
      map(["name", "authentication"], ["type", "oneof"], ["flags", optional], ["arguments", [
        map(["name", "password"], ["type", "string"], ["token", "AUTH"], ["flags", optional]),
        map(["name", "username_password"], ["type", "block"], ["token", "AUTH2"], ["flags", optional], ["arguments", [
          map(["name", "username"], ["type", "string"]),
          map(["name", "password"], ["type", "string"]),
        ]]),
      ]]),
    );
    expect(args[8]).toEqual(map(["name", "key"], ["type", "key"], ["key_spec_index", 1], ["token", "KEYS"], ["flags", statuses("optional", "multiple")]));
  });

  it("deprecated and internal commands carry doc_flags", () => {
    const slots = command("DOCS", "cluster|slots") as { map: [string, { map: [string, Plain][] }][] };
    expect(slots.map[0]?.[0]).toBe("cluster|slots");
    expect(Object.fromEntries(slots.map[0]?.[1].map ?? [])).toMatchObject({ doc_flags: statuses("deprecated"), deprecated_since: "7.0.0", replaced_by: "`CLUSTER SHARDS`" });
    const hmset = command("DOCS", "hmset") as { map: [string, { map: [string, Plain][] }][] };
    expect(Object.fromEntries(hmset.map[0]?.[1].map ?? [])).toMatchObject({ doc_flags: statuses("deprecated"), deprecated_since: "4.0.0", replaced_by: "`HSET` with multiple field-value pairs" });
    const asking = command("DOCS", "restore-asking") as { map: [string, { map: [string, Plain][] }][] };
    expect(Object.fromEntries(asking.map[0]?.[1].map ?? [])).toMatchObject({ doc_flags: statuses("syscmd"), group: "server" });
  });

  it("a container's docs map its subcommands' docs by full name", () => {
    const pubsub = command("DOCS", "PUBSUB") as { map: [string, { map: [string, Plain][] }][] };
    const docs = Object.fromEntries(pubsub.map[0]?.[1].map ?? []) as Record<string, Plain>;
    expect(docs["complexity"]).toBe("Depends on subcommand.");
    expect((docs["subcommands"] as { map: [string, Plain][] }).map.map(([k]) => k)).toEqual([
      "pubsub|channels", "pubsub|help", "pubsub|numpat", "pubsub|numsub", "pubsub|shardchannels", "pubsub|shardnumsub",
    ]);
  });

  it("leaves unknown names out; no names means every command", () => {
    expect((command("DOCS", "nosuch", "ECHO", "get|x") as { map: [string, Plain][] }).map.map(([k]) => k)).toEqual(["echo"]);
    expect((command("DOCS") as { map: [string, Plain][] }).map.map(([k]) => k)).toEqual([...COMMAND_TABLE.keys()]);
  });
});

/**
 * What redis-cli 7 does with COMMAND DOCS at start-up (cliInitCommandHelpEntries and
 * cliAddArgument in redis-cli.c): it walks maps or flat arrays, requires summary/since/group to be
 * strings, and builds each command's hint from its arguments. Returns hints by "NAME" or
 * "CONTAINER SUB", and throws where redis-cli would assert.
 */
function redisCliHints(reply: RespValue): Map<string, string> {
  const pairs = (v: RespValue): [RespValue, RespValue][] => {
    if (v.type === "map") return v.value.map(([k, x]) => [k, x]);
    if (v.type !== "array") throw new Error(`expected a map or an array, got ${v.type}`);
    const out: [RespValue, RespValue][] = [];
    for (let i = 0; i < v.value.length; i += 2) out.push([v.value[i] as RespValue, v.value[i + 1] as RespValue]);
    return out;
  };
  const str = (v: RespValue): string => {
    if (v.type === "bulk") return decodeUtf8(v.value);
    throw new Error(`expected a string, got ${v.type}`);
  };
  const list = (v: RespValue): readonly RespValue[] => {
    if (v.type === "array" || v.type === "set") return v.value;
    throw new Error(`expected an array, got ${v.type}`);
  };
  const param = (arg: RespValue): string => {
    let name = "";
    let type = "";
    let token: string | undefined;
    let subargs: readonly RespValue[] = [];
    let optional = false;
    let multiple = false;
    for (const [k, v] of pairs(arg)) {
      const key = str(k);
      if (key === "name") name = str(v);
      else if (key === "type") type = str(v);
      else if (key === "token") token = str(v);
      else if (key === "arguments") subargs = list(v);
      else if (key === "flags") {
        for (const f of list(v)) {
          if (f.type !== "simple") throw new Error("flags must be status replies");
          optional ||= f.value === "optional";
          multiple ||= f.value === "multiple";
        }
      }
    }
    let repeat: string;
    if (["key", "string", "integer", "double", "pattern", "unix-time"].includes(type)) repeat = name === "" ? '""' : name;
    else if (type === "oneof") repeat = subargs.map(param).join("|");
    else if (type === "block") repeat = subargs.map(param).join(" ");
    else if (type === "pure-token") repeat = "";
    else throw new Error(`Unknown type '${type}' set for argument '${name}'`);
    let tokenPart = token === undefined ? "" : token === "" ? '""' : token;
    if (tokenPart !== "" && type !== "pure-token") tokenPart += " ";
    const body = tokenPart + repeat + (multiple ? ` [${repeat} ...]` : "");
    return optional ? `[${body}]` : body;
  };
  const hints = new Map<string, string>();
  const walk = (name: string, specs: RespValue): void => {
    let params = "";
    for (const [k, v] of pairs(specs)) {
      const key = str(k);
      if (key === "summary" || key === "since" || key === "group") str(v);
      else if (key === "arguments") params = list(v).map(param).join(" ");
      else if (key === "subcommands") for (const [sub, subSpecs] of pairs(v)) walk(`${name} ${str(sub).split("|")[1]?.toUpperCase()}`, subSpecs);
    }
    hints.set(name, params);
  };
  for (const [name, specs] of pairs(reply)) walk(str(name).toUpperCase(), specs);
  return hints;
}

/** `value` as a client of `protocol` reads it off the wire. */
function overTheWire(value: RespValue, protocol: Protocol): RespValue {
  const parser = new ReplyParser();
  parser.feed(encodeReply(value, protocol));
  const read = parser.next();
  if (read === null) throw new Error(parser.error ?? "incomplete reply");
  return read;
}

describe("COMMAND DOCS as redis-cli 7 reads it", () => {
  it.each<[Protocol]>([[2], [3]])("RESP%i: every command parses, and the hints read as Redis's", (protocol) => {
    const hints = redisCliHints(overTheWire(commandCommand(["DOCS"]), protocol));
    expect(hints.size).toBe((command("LIST") as string[]).length);
    expect(Object.fromEntries(["GET", "SET", "MSET", "BLPOP", "EXPIRE", "LINSERT", "MIGRATE", "HELLO", "PING", "PSUBSCRIBE", "CLIENT LIST", "CLUSTER SETSLOT", "CLUSTER RESET", "CONFIG SET", "COMMAND LIST", "FLUSHALL"].map((n) => [n, hints.get(n)]))).toEqual({
      GET: "key",
      SET: "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]",
      MSET: "key value [key value ...]",
      BLPOP: "key [key ...] timeout",
      EXPIRE: "key seconds [NX|XX|GT|LT]",
      LINSERT: "key BEFORE|AFTER pivot element",
      // Redis 7.0's own docs: an empty token (redis-cli shows it as ""), AUTH and AUTH2 each optional.
      MIGRATE: 'host port key|"" destination-db timeout [COPY] [REPLACE] [[AUTH password]|[AUTH2 username password]] [KEYS key [key ...]]',
      HELLO: "[protover [AUTH username password] [SETNAME clientname]]",
      PING: "[message]",
      PSUBSCRIBE: "pattern [pattern ...]",
      "CLIENT LIST": "[TYPE NORMAL|MASTER|REPLICA|PUBSUB] [ID client-id [client-id ...]]",
      "CLUSTER SETSLOT": "slot IMPORTING node-id|MIGRATING node-id|NODE node-id|STABLE",
      "CLUSTER RESET": "[HARD|SOFT]",
      "CONFIG SET": "parameter value [parameter value ...]",
      "COMMAND LIST": "[FILTERBY MODULE module-name|ACLCAT category|PATTERN pattern]",
      FLUSHALL: "[ASYNC|SYNC]",
    });
  });
});

describe("COMMAND HELP and errors", () => {
  it("HELP", () => {
    expect(command("HELP")).toEqual(
      [
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        "HELP",
        "    Print this help.",
      ].map((simple) => ({ simple })),
    );
  });

  it.each<[string[], string]>([
    [["FOO"], "ERR unknown subcommand 'FOO'. Try COMMAND HELP."],
    [["COUNT", "x"], "ERR wrong number of arguments for 'command|count' command"],
    [["HELP", "x"], "ERR wrong number of arguments for 'command|help' command"],
  ])("COMMAND %j", (args, text) => {
    expect(command(...args)).toEqual(err(text));
  });
});

describe("keyIndexes", () => {
  const indexes = (...args: string[]): readonly number[] => {
    const found = lookupCommand(args);
    if ("error" in found) throw new Error(JSON.stringify(plain(found.error)));
    return keyIndexes(found.entry, args);
  };

  it.each<[string[], number[]]>([
    [["GET", "k"], [1]],
    [["SET", "k", "v", "GET"], [1]],
    [["MSET", "a", "1", "b", "2"], [1, 3]],
    [["RENAME", "a", "b"], [1, 2]],
    [["BLPOP", "a", "b", "0"], [1, 2]],
    [["SINTERSTORE", "d", "a", "b"], [1, 2, 3]],
    [["WATCH", "a", "b"], [1, 2]],
    [["SPUBLISH", "ch", "m"], [1]],
    [["SSUBSCRIBE", "a", "b"], [1, 2]],
    [["SUNSUBSCRIBE", "a"], [1]],
    [["SUNSUBSCRIBE"], []],
    [["PUBLISH", "ch", "m"], []],
    [["PING"], []],
    [["KEYS", "*"], []],
    [["CLUSTER", "KEYSLOT", "k"], []],
    [["CLUSTER", "COUNTKEYSINSLOT", "1"], []],
    [["MIGRATE", "h", "6379", "k", "0", "5000"], [3]],
    [["MIGRATE", "h", "6379", "", "0", "5000"], [3]],
    [["MIGRATE", "h", "6379", "", "0", "5000", "COPY", "REPLACE", "KEYS", "a", "b"], [9, 10]],
    [["MIGRATE", "h", "6379", "", "0", "5000", "keys", "a"], [7]],
    [["MIGRATE", "h", "6379", "k", "0", "5000", "KEYS", "a"], [3]],
    // Redis's migrateGetKeys: a trailing KEYS names no keys.
    [["MIGRATE", "h", "6379", "", "0", "5000", "KEYS"], []],
  ])("%j → %j", (args, expected) => {
    expect(indexes(...args)).toEqual(expected);
  });
});

describe("isWrite", () => {
  it.each<[string[], boolean]>([
    [["SET", "k", "v"], true],
    [["GET", "k"], false],
    [["MIGRATE", "h", "1", "k", "0", "5"], true],
    [["FLUSHALL"], true],
    [["CLUSTER", "NODES"], false],
    [["PUBLISH", "c", "m"], false],
  ])("%j → %s", (args, write) => {
    const found = lookupCommand(args);
    expect("entry" in found && isWrite(found.entry)).toBe(write);
  });
});

describe("table consistency", () => {
  const FLAG_ORDER = [
    "write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript", "blocking", "loading", "stale", "skip_monitor", "skip_slowlog",
    "asking", "fast", "no_auth", "no_mandatory_keys", "no_async_loading", "no_multi", "movablekeys", "allow_busy",
  ];

  it("has every keyspace command exactly once, and the node's own commands", () => {
    const names = [...COMMAND_TABLE.keys()];
    for (const name of COMMANDS.keys()) expect(names.filter((n) => n === name)).toEqual([name]);
    expect(names.filter((n) => !COMMANDS.has(n)).sort()).toEqual([...NODE_COMMANDS].sort());
    expect(names).toEqual([...names].sort());
  });

  it("takes arity, flags and key positions of keyspace commands from the keyspace table", () => {
    for (const [name, spec] of COMMANDS) {
      const e = COMMAND_TABLE.get(name) as CommandEntry;
      expect([e.arity, e.firstKey, e.lastKey, e.step]).toEqual([spec.arity, spec.firstKey, spec.lastKey, spec.step]);
      for (const f of spec.flags) expect(e.flags).toContain(f);
    }
  });

  it.each(allEntries().map((e) => [e.name, e] as const))("%s is consistent", (_, e) => {
    expect(e.name).toBe(e.name.toLowerCase());
    expect(e.arity).not.toBe(0);
    // Legacy key positions: all zero, or a first key and a step.
    expect(e.firstKey === 0).toBe(e.lastKey === 0);
    expect(e.firstKey === 0).toBe(e.step === 0);
    expect(e.firstKey >= 0 && e.step >= 0).toBe(true);
    // Keys have key specs and the other way round; a fixed arity has room for the keys.
    expect(e.firstKey > 0).toBe(e.keySpecs.length > 0);
    if (e.firstKey > 0 && e.arity > 0) expect(e.arity).toBeGreaterThan(Math.max(e.firstKey, e.lastKey));
    // Flags: known, in Redis's order, never both write and readonly.
    expect(e.flags.every((f) => FLAG_ORDER.includes(f))).toBe(true);
    expect([...e.flags].sort((a, b) => FLAG_ORDER.indexOf(a) - FLAG_ORDER.indexOf(b))).toEqual(e.flags);
    expect(e.flags.includes("write") && e.flags.includes("readonly")).toBe(false);
    expect(isWrite(e)).toBe(e.flags.includes("write"));
    // ACL categories: exactly one of @fast/@slow, and the ones the flags imply.
    expect(e.aclCategories.filter((c) => c === "@fast" || c === "@slow")).toEqual([e.flags.includes("fast") ? "@fast" : "@slow"]);
    expect(e.aclCategories.includes("@write")).toBe(e.flags.includes("write"));
    expect(e.aclCategories.includes("@read")).toBe(e.flags.includes("readonly"));
    expect(e.aclCategories.includes("@blocking")).toBe(e.flags.includes("blocking"));
    // Docs.
    expect(e.summary).not.toBe("");
    expect(e.since).toMatch(/^\d+\.\d+\.\d+$/);
    // Containers have HELP and negative arity; subcommands are named after their container.
    if (e.subcommands !== undefined) {
      expect(e.arity).toBeLessThan(0);
      expect(e.subcommands.has("help")).toBe(true);
      for (const [sub, s] of e.subcommands) expect(s.name).toBe(`${e.name}|${sub}`);
    }
    // Every key argument points at a key spec, and commands with real keys document one.
    const keyArgs = (e.arguments ?? []).flatMap(function keys(a): number[] {
      return [...(a.keySpecIndex === undefined ? [] : [a.keySpecIndex]), ...(a.arguments ?? []).flatMap(keys)];
    });
    for (const i of keyArgs) expect(i).toBeLessThan(e.keySpecs.length);
    if (e.keySpecs.some((s) => !s.flags.includes("not_key"))) expect(keyArgs.length).toBeGreaterThan(0);
  });

  it("finds the same keys through the key specs (GETKEYS) as through the legacy positions (router)", () => {
    for (const e of allEntries()) {
      if (e.firstKey === 0 || e.keySpecs.every((s) => s.flags.includes("not_key"))) continue;
      const argc = e.arity > 0 ? e.arity : 2 - e.arity;
      const args = [...e.name.split("|"), ...Array.from({ length: argc }, (_, i) => `a${i}`)].slice(0, argc);
      const viaSpecs = command("GETKEYS", ...args);
      const viaLegacy = keyIndexes(e, args).map((i) => args[i]);
      expect([e.name, viaSpecs]).toEqual([e.name, viaLegacy]);
    }
  });
});
