// The command table of a cluster node, and the COMMAND command that describes it.
//
// Every command the node answers has one entry here, with what redis-server 7.0's COMMAND INFO and
// COMMAND DOCS say about it: arity, flags, legacy key positions (first, last, step), ACL
// categories, tips, key specs, and the docs (summary, since, group, complexity, history,
// arguments). The sources are Redis 7.0's generated command table (src/commands.c, from
// src/commands/*.json) and server.c / db.c for how COMMAND prints and searches it.
//
// The keyspace's commands come from core/keyspace/commands.ts, the single source of their arity,
// flags and key positions: this file only adds what that table does not model (docs, ACL
// categories, key specs, tips, and the flags outside its CommandFlag type). Everything else the
// node serves is declared here.
//
// The node's command surface (top-level commands):
//   keyspace (core/keyspace): GET SET SETNX GETDEL GETEX MGET MSET MSETNX INCR DECR INCRBY DECRBY
//     INCRBYFLOAT APPEND STRLEN GETRANGE SETRANGE, DEL UNLINK EXISTS EXPIRE PEXPIRE EXPIREAT
//     PEXPIREAT TTL PTTL EXPIRETIME PEXPIRETIME PERSIST TYPE RENAME RENAMENX KEYS SCAN DBSIZE
//     FLUSHALL FLUSHDB (DUMP RESTORE RESTORE-ASKING when that table has them), LPUSH RPUSH LPUSHX
//     RPUSHX LPOP RPOP BLPOP BRPOP LRANGE LLEN LINDEX LSET LREM LTRIM LINSERT, SADD SREM SMEMBERS
//     SISMEMBER SMISMEMBER SCARD SINTER SUNION SDIFF SINTERSTORE SUNIONSTORE SDIFFSTORE, HSET HSETNX
//     HMSET HGET HMGET HDEL HGETALL HLEN HEXISTS HSTRLEN HINCRBY HINCRBYFLOAT HKEYS HVALS
//   connection: PING ECHO HELLO AUTH SELECT QUIT RESET CLIENT
//   server: COMMAND CONFIG INFO
//   generic: WAIT MIGRATE
//   transactions: MULTI EXEC DISCARD WATCH UNWATCH
//   cluster: CLUSTER READONLY READWRITE ASKING
//   pubsub: PUBLISH SPUBLISH SUBSCRIBE PSUBSCRIBE UNSUBSCRIBE PUNSUBSCRIBE SSUBSCRIBE SUNSUBSCRIBE
//     PUBSUB
//
// Containers where Redis 7.0 has more subcommands than the node serves (the others answer
// "unknown subcommand", as Redis does for a name it does not know):
//   CLIENT: served GETNAME SETNAME ID INFO LIST HELP; not CACHING GETREDIR KILL NO-EVICT PAUSE
//     REPLY TRACKING TRACKINGINFO UNBLOCK UNPAUSE.
//   CLUSTER: not BUMPEPOCH FLUSHSLOTS SAVECONFIG.
//   CONFIG: served GET SET RESETSTAT HELP; not REWRITE.
//   COMMAND and PUBSUB: all of Redis 7.0's.
//
// Where this differs from Redis 7.0, on purpose:
// - COMMAND, COMMAND INFO, COMMAND DOCS and COMMAND LIST list commands (and subcommands) in
//   alphabetical order; Redis walks its command dict in hash order (it says so with the
//   nondeterministic_output_order tip).
// - COMMAND DOCS arguments carry name, type, key_spec_index, token, flags and nested arguments,
//   but not the per-argument "since" and "summary" Redis also has.
// - Flags Redis hides from COMMAND INFO (may_replicate, sentinel, only_sentinel, protected) are not
//   kept at all.

import { assert } from "../machine.js";
import { Resp, type RespPair, type RespValue } from "../resp/codec.js";
import { bulk, byteStringToText, upperAscii } from "../keyspace/bytes.js";
import { COMMANDS, type CommandSpec } from "../keyspace/commands.js";
import { globMatch } from "../keyspace/glob.js";
import { unknownCommandError } from "../keyspace/keyspace.js";

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

/** COMMAND DOCS's group. */
export type CommandGroup = "generic" | "string" | "list" | "set" | "hash" | "pubsub" | "transactions" | "connection" | "server" | "cluster";

/** A key spec's flags, as COMMAND INFO prints them. */
export type KeySpecFlag = "RO" | "RW" | "OW" | "RM" | "access" | "update" | "insert" | "delete" | "not_key" | "incomplete" | "variable_flags";

/**
 * A Redis 7 key spec: where the search for keys begins (an argument index, or just after a keyword
 * searched from `startFrom`, negative counting from the end, backwards), then a range from there:
 * up to `lastKey` (relative to the start, or negative from the end) every `keyStep`.
 */
export interface KeySpec {
  readonly notes?: string;
  readonly flags: readonly KeySpecFlag[];
  readonly beginSearch: { readonly type: "index"; readonly index: number } | { readonly type: "keyword"; readonly keyword: string; readonly startFrom: number };
  readonly findKeys: { readonly lastKey: number; readonly keyStep: number; readonly limit: number };
}

/** COMMAND DOCS's argument types. */
export type DocArgType = "string" | "integer" | "double" | "key" | "pattern" | "unix-time" | "pure-token" | "oneof" | "block";

/** One argument in COMMAND DOCS: oneof and block have nested `arguments`. */
export interface DocArg {
  readonly name: string;
  readonly type: DocArgType;
  /** For key arguments: which key spec finds this key. */
  readonly keySpecIndex?: number;
  readonly token?: string;
  readonly optional: boolean;
  readonly multiple: boolean;
  readonly arguments?: readonly DocArg[];
}

export interface CommandEntry {
  /** Lower case; a subcommand's is "container|sub" (Redis's fullname). */
  readonly name: string;
  /** Redis's convention: positive is exact, negative is a minimum; the name(s) count. */
  readonly arity: number;
  /** COMMAND INFO's flags, in Redis's order ("write", "readonly", "fast", "movablekeys", …). */
  readonly flags: readonly string[];
  /** The top-level command's name: "cluster" for "cluster|nodes". */
  readonly root: string;
  /** Whether `flags` has "write" / "readonly": asked on every request, so kept as booleans. */
  readonly writes: boolean;
  readonly readOnly: boolean;
  /** Legacy key positions (COMMAND INFO's first, last, step): 0, 0, 0 without keys. */
  readonly firstKey: number;
  readonly lastKey: number;
  readonly step: number;
  /** "@read", "@slow", …: the declared categories plus those Redis derives from the flags. */
  readonly aclCategories: readonly string[];
  readonly tips: readonly string[];
  readonly keySpecs: readonly KeySpec[];
  /** Containers only (CLUSTER, CLIENT, …), by lower-case subcommand name. */
  readonly subcommands?: ReadonlyMap<string, CommandEntry>;
  readonly summary: string;
  readonly since: string;
  readonly group: CommandGroup;
  readonly complexity?: string;
  readonly docFlags?: readonly ("deprecated" | "syscmd")[];
  readonly deprecatedSince?: string;
  readonly replacedBy?: string;
  readonly history?: readonly (readonly [since: string, change: string])[];
  readonly arguments?: readonly DocArg[];
}

// ---------------------------------------------------------------------------------------------
// Rows: the data, in Redis 7.0's words
// ---------------------------------------------------------------------------------------------

/** What every row documents. */
interface Docs {
  readonly group: CommandGroup;
  readonly since: string;
  readonly summary: string;
  readonly complexity?: string;
  /** Declared ACL categories, space-separated, without "@"; Redis adds those the flags imply. */
  readonly acl: string;
  /** Space-separated. */
  readonly tips?: string;
  readonly keys?: readonly KeySpec[];
  /** The arguments in the synopsis notation of `parseSynopsis`. */
  readonly args?: string;
  readonly history?: readonly (readonly [string, string])[];
  readonly deprecated?: { readonly since: string; readonly replacedBy: string };
  readonly syscmd?: true;
}

/** Docs of a keyspace command, plus Redis 7.0 flags its table does not carry (space-separated). */
interface KeyspaceDocs extends Docs {
  readonly extraFlags?: string;
}

/** A command served outside the keyspace. */
interface NodeRow extends Docs {
  readonly name: string;
  readonly arity: number;
  /** Space-separated COMMAND INFO flags. */
  readonly flags: string;
  readonly subcommands?: readonly NodeRow[];
}

function keySpec(flags: string, beginSearch: KeySpec["beginSearch"], lastKey: number, keyStep: number, notes?: string): KeySpec {
  const findKeys = { lastKey, keyStep, limit: 0 };
  const spec = { flags: flags.split(" ") as KeySpecFlag[], beginSearch, findKeys };
  return notes === undefined ? spec : { notes, ...spec };
}

/** Keys from argument `index` to `lastKey` (relative to `index`; negative: from the end). */
function atIndex(flags: string, index: number, lastKey = 0, keyStep = 1, notes?: string): KeySpec {
  return keySpec(flags, { type: "index", index }, lastKey, keyStep, notes);
}

/** Keys after `keyword`, searched from `startFrom` (negative: from the end, backwards). */
function afterKeyword(flags: string, keyword: string, startFrom: number, lastKey: number): KeySpec {
  return keySpec(flags, { type: "keyword", keyword, startFrom }, lastKey, 1);
}

/** The one key at argument 1. */
const key1 = (flags: string, notes?: string): readonly KeySpec[] => [atIndex(flags, 1, 0, 1, notes)];
/** Every argument from 1 to the end (or to `lastKey` from the end) is a key. */
const keysFrom1 = (flags: string, lastKey = -1): readonly KeySpec[] => [atIndex(flags, 1, lastKey)];

const STRING = { group: "string", acl: "string" } as const;
const GENERIC = { group: "generic", acl: "keyspace" } as const;
const LIST = { group: "list", acl: "list" } as const;
const SET = { group: "set", acl: "set" } as const;
const HASH = { group: "hash", acl: "hash" } as const;

const EXPIRE_HISTORY = [["7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`."]] as const;
const TTL_HISTORY = [["2.8.0", "Added the -2 reply."]] as const;
const FLUSH_HISTORY = [["4.0.0", "Added the `ASYNC` flushing mode modifier."], ["6.2.0", "Added the `SYNC` flushing mode modifier."]] as const;
const RESTORE_HISTORY = [["3.0.0", "Added the `REPLACE` modifier."], ["5.0.0", "Added the `ABSTTL` modifier."], ["5.0.0", "Added the `IDLETIME` and `FREQ` options."]] as const;
const RESTORE_COMPLEXITY =
  "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).";
const RESTORE_ARGS = "key:key ttl:integer serialized-value:string [REPLACE] [ABSTTL] [IDLETIME seconds:integer] [FREQ frequency:integer]";
const PUSH_COMPLEXITY = "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.";
const SET_ALGEBRA_COMPLEXITY = "O(N) where N is the total number of elements in all given sets.";
const SINTER_COMPLEXITY = "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.";
const EXPIRATION_ARGS = "EX seconds:integer|PX milliseconds:integer|EXAT unix-time-seconds:unix-time|PXAT unix-time-milliseconds:unix-time";
const MULTI_KEY_TIPS = "request_policy:multi_shard response_policy:agg_sum";
const ORDER_TIP = "nondeterministic_output_order";

/**
 * Docs of the keyspace's commands, by name. Names that are optional in that table (DUMP, RESTORE,
 * RESTORE-ASKING) are used only when it has them.
 */
const KEYSPACE_DOCS: ReadonlyMap<string, KeyspaceDocs> = new Map<string, KeyspaceDocs>([
  // strings
  ["get", { ...STRING, since: "1.0.0", summary: "Get the value of a key", complexity: "O(1)", keys: key1("RO access"), args: "key:key" }],
  ["set", {
    ...STRING, since: "1.0.0", summary: "Set the string value of a key", complexity: "O(1)",
    keys: key1("RW access update variable_flags", "RW and ACCESS due to the optional `GET` argument"),
    args: `key:key value:string condition=[NX|XX] [GET] expiration=[${EXPIRATION_ARGS}|KEEPTTL]`,
    history: [["2.6.12", "Added the `EX`, `PX`, `NX` and `XX` options."], ["6.0.0", "Added the `KEEPTTL` option."], ["6.2.0", "Added the `GET`, `EXAT` and `PXAT` option."], ["7.0.0", "Allowed the `NX` and `GET` options to be used together."]],
  }],
  ["setnx", { ...STRING, since: "1.0.0", summary: "Set the value of a key, only if the key does not exist", complexity: "O(1)", keys: key1("OW insert"), args: "key:key value:string" }],
  ["getdel", { ...STRING, since: "6.2.0", summary: "Get the value of a key and delete the key", complexity: "O(1)", keys: key1("RW access delete"), args: "key:key" }],
  ["getex", {
    ...STRING, since: "6.2.0", summary: "Get the value of a key and optionally set its expiration", complexity: "O(1)",
    keys: key1("RW access update", "RW and UPDATE because it changes the TTL"), args: `key:key expiration=[${EXPIRATION_ARGS}|PERSIST]`,
  }],
  ["mget", { ...STRING, since: "1.0.0", summary: "Get the values of all the given keys", complexity: "O(N) where N is the number of keys to retrieve.", tips: "request_policy:multi_shard", keys: keysFrom1("RO access"), args: "key:key ..." }],
  ["mset", {
    ...STRING, since: "1.0.1", summary: "Set multiple keys to multiple values", complexity: "O(N) where N is the number of keys to set.",
    tips: "request_policy:multi_shard response_policy:all_succeeded", keys: [atIndex("OW update", 1, -1, 2)], args: "(key:key value:string) ...",
  }],
  ["msetnx", {
    ...STRING, since: "1.0.1", summary: "Set multiple keys to multiple values, only if none of the keys exist", complexity: "O(N) where N is the number of keys to set.",
    tips: "request_policy:multi_shard response_policy:agg_min", keys: [atIndex("OW insert", 1, -1, 2)], args: "(key:key value:string) ...",
  }],
  ["incr", { ...STRING, since: "1.0.0", summary: "Increment the integer value of a key by one", complexity: "O(1)", keys: key1("RW access update"), args: "key:key" }],
  ["decr", { ...STRING, since: "1.0.0", summary: "Decrement the integer value of a key by one", complexity: "O(1)", keys: key1("RW access update"), args: "key:key" }],
  ["incrby", { ...STRING, since: "1.0.0", summary: "Increment the integer value of a key by the given amount", complexity: "O(1)", keys: key1("RW access update"), args: "key:key increment:integer" }],
  ["decrby", { ...STRING, since: "1.0.0", summary: "Decrement the integer value of a key by the given number", complexity: "O(1)", keys: key1("RW access update"), args: "key:key decrement:integer" }],
  ["incrbyfloat", { ...STRING, since: "2.6.0", summary: "Increment the float value of a key by the given amount", complexity: "O(1)", keys: key1("RW access update"), args: "key:key increment:double" }],
  ["append", {
    // Redis 7.0 flags APPEND fast; core/keyspace/commands.ts omits it, so it is added here.
    ...STRING, extraFlags: "fast", since: "2.0.0", summary: "Append a value to a key",
    complexity: "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size, since the dynamic string library used by Redis will double the free space available on every reallocation.",
    keys: key1("RW insert"), args: "key:key value:string",
  }],
  ["strlen", { ...STRING, since: "2.2.0", summary: "Get the length of the value stored in a key", complexity: "O(1)", keys: key1("RO"), args: "key:key" }],
  ["getrange", {
    ...STRING, since: "2.4.0", summary: "Get a substring of the string stored at a key",
    complexity: "O(N) where N is the length of the returned string. The complexity is ultimately determined by the returned length, but because creating a substring from an existing string is very cheap, it can be considered O(1) for small strings.",
    keys: key1("RO access"), args: "key:key start:integer end:integer",
  }],
  ["setrange", {
    ...STRING, since: "2.2.0", summary: "Overwrite part of a string at key starting at the specified offset",
    complexity: "O(1), not counting the time taken to copy the new string in place. Usually, this string is very small so the amortized complexity is O(1). Otherwise, complexity is O(M) with M being the length of the value argument.",
    keys: key1("RW update"), args: "key:key offset:integer value:string",
  }],
  // generic
  ["del", {
    ...GENERIC, since: "1.0.0", summary: "Delete a key",
    complexity: "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
    tips: MULTI_KEY_TIPS, keys: keysFrom1("RM delete"), args: "key:key ...",
  }],
  ["unlink", {
    ...GENERIC, since: "4.0.0", summary: "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
    complexity: "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
    tips: MULTI_KEY_TIPS, keys: keysFrom1("RM delete"), args: "key:key ...",
  }],
  ["exists", {
    ...GENERIC, since: "1.0.0", summary: "Determine if a key exists", complexity: "O(N) where N is the number of keys to check.",
    tips: MULTI_KEY_TIPS, keys: keysFrom1("RO"), args: "key:key ...", history: [["3.0.3", "Accepts multiple `key` arguments."]],
  }],
  ["expire", { ...GENERIC, since: "1.0.0", summary: "Set a key's time to live in seconds", complexity: "O(1)", keys: key1("RW update"), args: "key:key seconds:integer condition=[NX|XX|GT|LT]", history: EXPIRE_HISTORY }],
  ["pexpire", { ...GENERIC, since: "2.6.0", summary: "Set a key's time to live in milliseconds", complexity: "O(1)", keys: key1("RW update"), args: "key:key milliseconds:integer condition=[NX|XX|GT|LT]", history: EXPIRE_HISTORY }],
  ["expireat", {
    ...GENERIC, since: "1.2.0", summary: "Set the expiration for a key as a UNIX timestamp", complexity: "O(1)", keys: key1("RW update"),
    args: "key:key unix-time-seconds:unix-time condition=[NX|XX|GT|LT]", history: EXPIRE_HISTORY,
  }],
  ["pexpireat", {
    ...GENERIC, since: "2.6.0", summary: "Set the expiration for a key as a UNIX timestamp specified in milliseconds", complexity: "O(1)", keys: key1("RW update"),
    args: "key:key unix-time-milliseconds:unix-time condition=[NX|XX|GT|LT]", history: EXPIRE_HISTORY,
  }],
  ["ttl", { ...GENERIC, since: "1.0.0", summary: "Get the time to live for a key in seconds", complexity: "O(1)", tips: "nondeterministic_output", keys: key1("RO access"), args: "key:key", history: TTL_HISTORY }],
  ["pttl", { ...GENERIC, since: "2.6.0", summary: "Get the time to live for a key in milliseconds", complexity: "O(1)", tips: "nondeterministic_output", keys: key1("RO access"), args: "key:key", history: TTL_HISTORY }],
  ["expiretime", { ...GENERIC, since: "7.0.0", summary: "Get the expiration Unix timestamp for a key", complexity: "O(1)", keys: key1("RO access"), args: "key:key" }],
  ["pexpiretime", { ...GENERIC, since: "7.0.0", summary: "Get the expiration Unix timestamp for a key in milliseconds", complexity: "O(1)", keys: key1("RO access"), args: "key:key" }],
  ["persist", { ...GENERIC, since: "2.2.0", summary: "Remove the expiration from a key", complexity: "O(1)", keys: key1("RW update"), args: "key:key" }],
  ["type", { ...GENERIC, since: "1.0.0", summary: "Determine the type stored at key", complexity: "O(1)", keys: key1("RO"), args: "key:key" }],
  ["rename", { ...GENERIC, since: "1.0.0", summary: "Rename a key", complexity: "O(1)", keys: [atIndex("RW access delete", 1), atIndex("OW update", 2)], args: "key:key newkey:key" }],
  ["renamenx", {
    ...GENERIC, since: "1.0.0", summary: "Rename a key, only if the new key does not exist", complexity: "O(1)", keys: [atIndex("RW access delete", 1), atIndex("OW insert", 2)],
    args: "key:key newkey:key", history: [["3.2.0", "The command no longer returns an error when source and destination names are the same."]],
  }],
  ["keys", {
    ...GENERIC, acl: "keyspace dangerous", since: "1.0.0", summary: "Find all keys matching the given pattern",
    complexity: "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
    tips: `request_policy:all_shards ${ORDER_TIP}`, args: "pattern:pattern",
  }],
  ["scan", {
    ...GENERIC, since: "2.8.0", summary: "Incrementally iterate the keys space",
    complexity: "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
    tips: "nondeterministic_output request_policy:special", args: "cursor:integer [MATCH pattern:pattern] [COUNT count:integer] [TYPE type:string]",
    history: [["6.0.0", "Added the `TYPE` subcommand."]],
  }],
  ["dump", {
    ...GENERIC, since: "2.6.0", summary: "Return a serialized version of the value stored at the specified key.",
    complexity: "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects composing the value and M their average size. For small string values the time complexity is thus O(1)+O(1*M) where M is small, so simply O(1).",
    tips: "nondeterministic_output", keys: key1("RO access"), args: "key:key",
  }],
  ["restore", {
    ...GENERIC, acl: "keyspace dangerous", since: "2.6.0", summary: "Create a key using the provided serialized value, previously obtained using DUMP.",
    complexity: RESTORE_COMPLEXITY, keys: key1("OW update"), args: RESTORE_ARGS, history: RESTORE_HISTORY,
  }],
  ["restore-asking", {
    group: "server", acl: "keyspace dangerous", extraFlags: "asking", syscmd: true, since: "3.0.0", summary: "An internal command for migrating keys in a cluster",
    complexity: RESTORE_COMPLEXITY, keys: key1("OW update"), args: RESTORE_ARGS, history: RESTORE_HISTORY,
  }],
  ["dbsize", { group: "server", acl: "keyspace", since: "1.0.0", summary: "Return the number of keys in the selected database", complexity: "O(1)", tips: "request_policy:all_shards response_policy:agg_sum" }],
  ["flushall", {
    group: "server", acl: "keyspace dangerous", since: "1.0.0", summary: "Remove all keys from all databases", complexity: "O(N) where N is the total number of keys in all databases",
    tips: "request_policy:all_shards response_policy:all_succeeded", args: "async=[ASYNC|SYNC]", history: FLUSH_HISTORY,
  }],
  ["flushdb", {
    group: "server", acl: "keyspace dangerous", since: "1.0.0", summary: "Remove all keys from the current database", complexity: "O(N) where N is the number of keys in the selected database",
    tips: "request_policy:all_shards response_policy:all_succeeded", args: "async=[ASYNC|SYNC]", history: FLUSH_HISTORY,
  }],
  // lists
  ["lpush", { ...LIST, since: "1.0.0", summary: "Prepend one or multiple elements to a list", complexity: PUSH_COMPLEXITY, keys: key1("RW insert"), args: "key:key element:string ...", history: [["2.4.0", "Accepts multiple `element` arguments."]] }],
  ["rpush", { ...LIST, since: "1.0.0", summary: "Append one or multiple elements to a list", complexity: PUSH_COMPLEXITY, keys: key1("RW insert"), args: "key:key element:string ...", history: [["2.4.0", "Accepts multiple `element` arguments."]] }],
  ["lpushx", { ...LIST, since: "2.2.0", summary: "Prepend an element to a list, only if the list exists", complexity: PUSH_COMPLEXITY, keys: key1("RW insert"), args: "key:key element:string ...", history: [["4.0.0", "Accepts multiple `element` arguments."]] }],
  ["rpushx", { ...LIST, since: "2.2.0", summary: "Append an element to a list, only if the list exists", complexity: PUSH_COMPLEXITY, keys: key1("RW insert"), args: "key:key element:string ...", history: [["4.0.0", "Accepts multiple `element` arguments."]] }],
  ["lpop", { ...LIST, since: "1.0.0", summary: "Remove and get the first elements in a list", complexity: "O(N) where N is the number of elements returned", keys: key1("RW access delete"), args: "key:key [count:integer]", history: [["6.2.0", "Added the `count` argument."]] }],
  ["rpop", { ...LIST, since: "1.0.0", summary: "Remove and get the last elements in a list", complexity: "O(N) where N is the number of elements returned", keys: key1("RW access delete"), args: "key:key [count:integer]", history: [["6.2.0", "Added the `count` argument."]] }],
  ["blpop", {
    ...LIST, extraFlags: "noscript", since: "2.0.0", summary: "Remove and get the first element in a list, or block until one is available", complexity: "O(N) where N is the number of provided keys.",
    keys: keysFrom1("RW access delete", -2), args: "key:key ... timeout:double", history: [["6.0.0", "`timeout` is interpreted as a double instead of an integer."]],
  }],
  ["brpop", {
    ...LIST, extraFlags: "noscript", since: "2.0.0", summary: "Remove and get the last element in a list, or block until one is available", complexity: "O(N) where N is the number of provided keys.",
    keys: keysFrom1("RW access delete", -2), args: "key:key ... timeout:double", history: [["6.0.0", "`timeout` is interpreted as a double instead of an integer."]],
  }],
  ["lrange", {
    ...LIST, since: "1.0.0", summary: "Get a range of elements from a list",
    complexity: "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.",
    keys: key1("RO access"), args: "key:key start:integer stop:integer",
  }],
  ["llen", { ...LIST, since: "1.0.0", summary: "Get the length of a list", complexity: "O(1)", keys: key1("RO"), args: "key:key" }],
  ["lindex", {
    ...LIST, since: "1.0.0", summary: "Get an element from a list by its index",
    complexity: "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).",
    keys: key1("RO access"), args: "key:key index:integer",
  }],
  ["lset", {
    ...LIST, since: "1.0.0", summary: "Set the value of an element in a list by its index", complexity: "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).",
    keys: key1("RW update"), args: "key:key index:integer element:string",
  }],
  ["lrem", { ...LIST, since: "1.0.0", summary: "Remove elements from a list", complexity: "O(N+M) where N is the length of the list and M is the number of elements removed.", keys: key1("RW delete"), args: "key:key count:integer element:string" }],
  ["ltrim", { ...LIST, since: "1.0.0", summary: "Trim a list to the specified range", complexity: "O(N) where N is the number of elements to be removed by the operation.", keys: key1("RW delete"), args: "key:key start:integer stop:integer" }],
  ["linsert", {
    ...LIST, since: "2.2.0", summary: "Insert an element before or after another element in a list",
    complexity: "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).",
    keys: key1("RW insert"), args: "key:key where=(BEFORE|AFTER) pivot:string element:string",
  }],
  // sets
  ["sadd", { ...SET, since: "1.0.0", summary: "Add one or more members to a set", complexity: PUSH_COMPLEXITY, keys: key1("RW insert"), args: "key:key member:string ...", history: [["2.4.0", "Accepts multiple `member` arguments."]] }],
  ["srem", {
    ...SET, since: "1.0.0", summary: "Remove one or more members from a set", complexity: "O(N) where N is the number of members to be removed.", keys: key1("RW delete"),
    args: "key:key member:string ...", history: [["2.4.0", "Accepts multiple `member` arguments."]],
  }],
  ["smembers", { ...SET, since: "1.0.0", summary: "Get all the members in a set", complexity: "O(N) where N is the set cardinality.", tips: ORDER_TIP, keys: key1("RO access"), args: "key:key" }],
  ["sismember", { ...SET, since: "1.0.0", summary: "Determine if a given value is a member of a set", complexity: "O(1)", keys: key1("RO"), args: "key:key member:string" }],
  ["smismember", {
    ...SET, since: "6.2.0", summary: "Returns the membership associated with the given elements for a set", complexity: "O(N) where N is the number of elements being checked for membership",
    keys: key1("RO access"), args: "key:key member:string ...",
  }],
  ["scard", { ...SET, since: "1.0.0", summary: "Get the number of members in a set", complexity: "O(1)", keys: key1("RO"), args: "key:key" }],
  ["sinter", { ...SET, since: "1.0.0", summary: "Intersect multiple sets", complexity: SINTER_COMPLEXITY, tips: ORDER_TIP, keys: keysFrom1("RO access"), args: "key:key ..." }],
  ["sunion", { ...SET, since: "1.0.0", summary: "Add multiple sets", complexity: SET_ALGEBRA_COMPLEXITY, tips: ORDER_TIP, keys: keysFrom1("RO access"), args: "key:key ..." }],
  ["sdiff", { ...SET, since: "1.0.0", summary: "Subtract multiple sets", complexity: SET_ALGEBRA_COMPLEXITY, tips: ORDER_TIP, keys: keysFrom1("RO access"), args: "key:key ..." }],
  ["sinterstore", {
    ...SET, since: "1.0.0", summary: "Intersect multiple sets and store the resulting set in a key", complexity: SINTER_COMPLEXITY,
    keys: [atIndex("RW update", 1), atIndex("RO access", 2, -1)], args: "destination:key key:key ...",
  }],
  ["sunionstore", {
    ...SET, since: "1.0.0", summary: "Add multiple sets and store the resulting set in a key", complexity: SET_ALGEBRA_COMPLEXITY,
    keys: [atIndex("OW update", 1), atIndex("RO access", 2, -1)], args: "destination:key key:key ...",
  }],
  ["sdiffstore", {
    ...SET, since: "1.0.0", summary: "Subtract multiple sets and store the resulting set in a key", complexity: SET_ALGEBRA_COMPLEXITY,
    keys: [atIndex("OW update", 1), atIndex("RO access", 2, -1)], args: "destination:key key:key ...",
  }],
  // hashes
  ["hset", {
    ...HASH, since: "2.0.0", summary: "Set the string value of a hash field",
    complexity: "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.",
    keys: key1("RW update"), args: "key:key (field:string value:string) ...", history: [["4.0.0", "Accepts multiple `field` and `value` arguments."]],
  }],
  ["hsetnx", { ...HASH, since: "2.0.0", summary: "Set the value of a hash field, only if the field does not exist", complexity: "O(1)", keys: key1("RW insert"), args: "key:key field:string value:string" }],
  ["hmset", {
    ...HASH, since: "2.0.0", summary: "Set multiple hash fields to multiple values", complexity: "O(N) where N is the number of fields being set.",
    deprecated: { since: "4.0.0", replacedBy: "`HSET` with multiple field-value pairs" }, keys: key1("RW update"), args: "key:key (field:string value:string) ...",
  }],
  ["hget", { ...HASH, since: "2.0.0", summary: "Get the value of a hash field", complexity: "O(1)", keys: key1("RO access"), args: "key:key field:string" }],
  ["hmget", { ...HASH, since: "2.0.0", summary: "Get the values of all the given hash fields", complexity: "O(N) where N is the number of fields being requested.", keys: key1("RO access"), args: "key:key field:string ..." }],
  ["hdel", {
    ...HASH, since: "2.0.0", summary: "Delete one or more hash fields", complexity: "O(N) where N is the number of fields to be removed.", keys: key1("RW delete"),
    args: "key:key field:string ...", history: [["2.4.0", "Accepts multiple `field` arguments."]],
  }],
  ["hgetall", { ...HASH, since: "2.0.0", summary: "Get all the fields and values in a hash", complexity: "O(N) where N is the size of the hash.", tips: ORDER_TIP, keys: key1("RO access"), args: "key:key" }],
  ["hlen", { ...HASH, since: "2.0.0", summary: "Get the number of fields in a hash", complexity: "O(1)", keys: key1("RO"), args: "key:key" }],
  ["hexists", { ...HASH, since: "2.0.0", summary: "Determine if a hash field exists", complexity: "O(1)", keys: key1("RO"), args: "key:key field:string" }],
  ["hstrlen", { ...HASH, since: "3.2.0", summary: "Get the length of the value of a hash field", complexity: "O(1)", keys: key1("RO"), args: "key:key field:string" }],
  ["hincrby", { ...HASH, since: "2.0.0", summary: "Increment the integer value of a hash field by the given number", complexity: "O(1)", keys: key1("RW access update"), args: "key:key field:string increment:integer" }],
  ["hincrbyfloat", { ...HASH, since: "2.6.0", summary: "Increment the float value of a hash field by the given amount", complexity: "O(1)", keys: key1("RW access update"), args: "key:key field:string increment:double" }],
  ["hkeys", { ...HASH, since: "2.0.0", summary: "Get all the fields in a hash", complexity: "O(N) where N is the size of the hash.", tips: ORDER_TIP, keys: key1("RO access"), args: "key:key" }],
  ["hvals", { ...HASH, since: "2.0.0", summary: "Get all the values in a hash", complexity: "O(N) where N is the size of the hash.", tips: ORDER_TIP, keys: key1("RO access"), args: "key:key" }],
]);

/** Keyspace commands the keyspace table may or may not have yet. */
const OPTIONAL_KEYSPACE_COMMANDS: ReadonlySet<string> = new Set(["dump", "restore", "restore-asking"]);

const HELP_SUMMARY = "Show helpful text about the different subcommands";
const CONTAINER = { arity: -2, flags: "", acl: "", complexity: "Depends on subcommand." } as const;
/** The flags of the commands a client may send before AUTH (HELLO, AUTH, QUIT, RESET). */
const PRE_AUTH_FLAGS = "noscript loading stale fast no_auth allow_busy";
const TX_FLAGS = "noscript loading stale fast allow_busy";
const PUBSUB_NOSCRIPT = "pubsub noscript loading stale";
const CLUSTER_ADMIN = "admin stale no_async_loading";
const NONDETERMINISTIC = "nondeterministic_output";

/** A container's HELP subcommand. */
function help(group: CommandGroup, acl: string, since: string): NodeRow {
  return { name: "help", arity: 2, flags: "loading stale", acl, group, since, summary: HELP_SUMMARY, complexity: "O(1)" };
}

const CLIENT_SUBCOMMANDS: readonly NodeRow[] = [
  { name: "getname", arity: 2, flags: "noscript loading stale", acl: "connection", group: "connection", since: "2.6.9", summary: "Get the current connection name", complexity: "O(1)" },
  help("connection", "connection", "5.0.0"),
  { name: "id", arity: 2, flags: "noscript loading stale", acl: "connection", group: "connection", since: "5.0.0", summary: "Returns the client ID for the current connection", complexity: "O(1)" },
  {
    name: "info", arity: 2, flags: "noscript loading stale", acl: "connection", group: "connection", since: "6.2.0", summary: "Returns information about the current client connection.",
    complexity: "O(1)", tips: NONDETERMINISTIC,
  },
  {
    name: "list", arity: -2, flags: "admin noscript loading stale", acl: "connection", group: "connection", since: "2.4.0", summary: "Get the list of client connections",
    complexity: "O(N) where N is the number of client connections", tips: NONDETERMINISTIC, args: "[TYPE (NORMAL|MASTER|REPLICA|PUBSUB)] [ID id=(client-id:integer ...)]",
    history: [
      ["2.8.12", "Added unique client `id` field."],
      ["5.0.0", "Added optional `TYPE` filter."],
      ["6.0.0", "Added `user` field."],
      ["6.2.0", "Added `argv-mem`, `tot-mem`, `laddr` and `redir` fields and the optional `ID` filter."],
      ["7.0.0", "Added `resp`, `multi-mem`, `rbs` and `rbp` fields."],
      ["7.0.3", "Added `ssub` field."],
    ],
  },
  { name: "setname", arity: 3, flags: "noscript loading stale", acl: "connection", group: "connection", since: "2.6.9", summary: "Set the current connection name", complexity: "O(1)", args: "connection-name:string" },
];

/** A CLUSTER subcommand: group "cluster", no declared ACL category. */
function cluster(name: string, arity: number, flags: string, since: string, summary: string, complexity: string, more: Partial<NodeRow> = {}): NodeRow {
  return { name, arity, flags, acl: "", group: "cluster", since, summary, complexity, ...more };
}

const CLUSTER_SUBCOMMANDS: readonly NodeRow[] = [
  cluster("addslots", -3, CLUSTER_ADMIN, "3.0.0", "Assign new hash slots to receiving node", "O(N) where N is the total number of hash slot arguments", { args: "slot:integer ..." }),
  cluster("addslotsrange", -4, CLUSTER_ADMIN, "7.0.0", "Assign new hash slots to receiving node", "O(N) where N is the total number of the slots between the start slot and end slot arguments.", {
    args: "(start-slot:integer end-slot:integer) ...",
  }),
  cluster("count-failure-reports", 3, "admin stale", "3.0.0", "Return the number of failure reports active for a given node", "O(N) where N is the number of failure reports", {
    tips: NONDETERMINISTIC, args: "node-id:string",
  }),
  cluster("countkeysinslot", 3, "stale", "3.0.0", "Return the number of local keys in the specified hash slot", "O(1)", { args: "slot:integer" }),
  cluster("delslots", -3, CLUSTER_ADMIN, "3.0.0", "Set hash slots as unbound in receiving node", "O(N) where N is the total number of hash slot arguments", { args: "slot:integer ..." }),
  cluster("delslotsrange", -4, CLUSTER_ADMIN, "7.0.0", "Set hash slots as unbound in receiving node", "O(N) where N is the total number of the slots between the start slot and end slot arguments.", {
    args: "(start-slot:integer end-slot:integer) ...",
  }),
  cluster("failover", -2, CLUSTER_ADMIN, "3.0.0", "Forces a replica to perform a manual failover of its master.", "O(1)", { args: "options=[FORCE|TAKEOVER]" }),
  cluster("forget", 3, CLUSTER_ADMIN, "3.0.0", "Remove a node from the nodes table", "O(1)", { args: "node-id:string" }),
  cluster("getkeysinslot", 4, "stale", "3.0.0", "Return local key names in the specified hash slot", "O(log(N)) where N is the number of requested keys", {
    tips: NONDETERMINISTIC, args: "slot:integer count:integer",
  }),
  help("cluster", "", "5.0.0"),
  cluster("info", 2, "stale", "3.0.0", "Provides info about Redis Cluster node state", "O(1)", { tips: NONDETERMINISTIC }),
  cluster("keyslot", 3, "stale", "3.0.0", "Returns the hash slot of the specified key", "O(N) where N is the number of bytes in the key", { args: "key:string" }),
  cluster("links", 2, "stale", "7.0.0", "Returns a list of all TCP links to and from peer nodes in cluster", "O(N) where N is the total number of Cluster nodes", { tips: NONDETERMINISTIC }),
  cluster("meet", -4, CLUSTER_ADMIN, "3.0.0", "Force a node cluster to handshake with another node", "O(1)", {
    args: "ip:string port:integer [cluster_bus_port:integer]", history: [["4.0.0", "Added the optional `cluster_bus_port` argument."]],
  }),
  cluster("myid", 2, "stale", "3.0.0", "Return the node id", "O(1)"),
  cluster("nodes", 2, "stale", "3.0.0", "Get Cluster config for the node", "O(N) where N is the total number of Cluster nodes", { tips: NONDETERMINISTIC }),
  cluster("replicas", 3, "admin stale", "5.0.0", "List replica nodes of the specified master node", "O(1)", { tips: NONDETERMINISTIC, args: "node-id:string" }),
  cluster("replicate", 3, CLUSTER_ADMIN, "3.0.0", "Reconfigure a node as a replica of the specified master node", "O(1)", { args: "node-id:string" }),
  cluster("reset", -2, "admin noscript stale", "3.0.0", "Reset a Redis Cluster node", "O(N) where N is the number of known nodes. The command may execute a FLUSHALL as a side effect.", {
    args: "[HARD|SOFT]",
  }),
  cluster("set-config-epoch", 3, CLUSTER_ADMIN, "3.0.0", "Set the configuration epoch in a new node", "O(1)", { args: "config-epoch:integer" }),
  cluster("setslot", -4, CLUSTER_ADMIN, "3.0.0", "Bind a hash slot to a specific node", "O(1)", {
    args: "slot:integer subcommand=(IMPORTING node-id:string|MIGRATING node-id:string|NODE node-id:string|STABLE)",
  }),
  cluster("shards", 2, "stale", "7.0.0", "Get array of cluster slots to node mappings", "O(N) where N is the total number of cluster nodes", { tips: NONDETERMINISTIC }),
  cluster("slaves", 3, "admin stale", "3.0.0", "List replica nodes of the specified master node", "O(1)", {
    tips: NONDETERMINISTIC, args: "node-id:string", deprecated: { since: "5.0.0", replacedBy: "`CLUSTER REPLICAS`" },
  }),
  cluster("slots", 2, "stale", "3.0.0", "Get array of Cluster slot to node mappings", "O(N) where N is the total number of Cluster nodes", {
    tips: NONDETERMINISTIC, deprecated: { since: "7.0.0", replacedBy: "`CLUSTER SHARDS`" }, history: [["4.0.0", "Added node IDs."], ["7.0.0", "Added additional networking metadata field."]],
  }),
];

const COMMAND_SUBCOMMANDS: readonly NodeRow[] = [
  { name: "count", arity: 2, flags: "loading stale", acl: "connection", group: "server", since: "2.8.13", summary: "Get total number of Redis commands", complexity: "O(1)" },
  {
    name: "docs", arity: -2, flags: "loading stale", acl: "connection", group: "server", since: "7.0.0", summary: "Get array of specific Redis command documentation",
    complexity: "O(N) where N is the number of commands to look up", tips: ORDER_TIP, args: "[command-name:string ...]",
  },
  {
    name: "getkeys", arity: -4, flags: "loading stale", acl: "connection", group: "server", since: "2.8.13", summary: "Extract keys given a full Redis command",
    complexity: "O(N) where N is the number of arguments to the command",
  },
  {
    name: "getkeysandflags", arity: -4, flags: "loading stale", acl: "connection", group: "server", since: "7.0.0", summary: "Extract keys and access flags given a full Redis command",
    complexity: "O(N) where N is the number of arguments to the command",
  },
  help("server", "connection", "5.0.0"),
  {
    name: "info", arity: -2, flags: "loading stale", acl: "connection", group: "server", since: "2.8.13", summary: "Get array of specific Redis command details, or all when no argument is given.",
    complexity: "O(N) where N is the number of commands to look up", tips: ORDER_TIP, args: "[command-name:string ...]",
    history: [["7.0.0", "Allowed to be called with no argument to get info on all commands."]],
  },
  {
    name: "list", arity: -2, flags: "loading stale", acl: "connection", group: "server", since: "7.0.0", summary: "Get an array of Redis command names",
    complexity: "O(N) where N is the total number of Redis commands", tips: ORDER_TIP, args: "[FILTERBY filterby=(MODULE module-name:string|ACLCAT category:string|PATTERN pattern:pattern)]",
  },
];

const CONFIG_SUBCOMMANDS: readonly NodeRow[] = [
  {
    name: "get", arity: -3, flags: "admin noscript loading stale", acl: "", group: "server", since: "2.0.0", summary: "Get the values of configuration parameters",
    complexity: "O(N) when N is the number of configuration parameters provided", args: "parameter=(parameter:string) ...",
    history: [["7.0.0", "Added the ability to pass multiple pattern parameters in one call"]],
  },
  help("server", "", "5.0.0"),
  { name: "resetstat", arity: 2, flags: "admin noscript loading stale", acl: "", group: "server", since: "2.0.0", summary: "Reset the stats returned by INFO", complexity: "O(1)" },
  {
    name: "set", arity: -4, flags: "admin noscript loading stale", acl: "", group: "server", since: "2.0.0", summary: "Set configuration parameters to the given values",
    complexity: "O(N) when N is the number of configuration parameters provided", tips: "request_policy:all_nodes response_policy:all_succeeded", args: "(parameter:string value:string) ...",
    history: [["7.0.0", "Added the ability to set multiple parameters in one call."]],
  },
];

/** A PUBSUB subcommand. */
function pubsub(name: string, arity: number, since: string, summary: string, complexity: string, args?: string): NodeRow {
  const row: NodeRow = { name, arity, flags: "pubsub loading stale", acl: "", group: "pubsub", since, summary, complexity };
  return args === undefined ? row : { ...row, args };
}

const PUBSUB_SUBCOMMANDS: readonly NodeRow[] = [
  pubsub("channels", -2, "2.8.0", "List active channels", "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)", "[pattern:pattern]"),
  help("pubsub", "", "6.2.0"),
  pubsub("numpat", 2, "2.8.0", "Get the count of unique patterns pattern subscriptions", "O(1)"),
  pubsub("numsub", -2, "2.8.0", "Get the count of subscribers for channels", "O(N) for the NUMSUB subcommand, where N is the number of requested channels", "[channel:string ...]"),
  pubsub("shardchannels", -2, "7.0.0", "List active shard channels", "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).", "[pattern:pattern]"),
  pubsub("shardnumsub", -2, "7.0.0", "Get the count of subscribers for shard channels", "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels", "[shardchannel:string ...]"),
];

/** The commands served outside the keyspace. */
const NODE_COMMANDS: readonly NodeRow[] = [
  // connection
  { name: "ping", arity: -1, flags: "fast", acl: "connection", group: "connection", since: "1.0.0", summary: "Ping the server", complexity: "O(1)", tips: "request_policy:all_shards response_policy:all_succeeded", args: "[message:string]" },
  { name: "echo", arity: 2, flags: "loading stale fast", acl: "connection", group: "connection", since: "1.0.0", summary: "Echo the given string", complexity: "O(1)", args: "message:string" },
  {
    name: "hello", arity: -1, flags: PRE_AUTH_FLAGS, acl: "connection", group: "connection", since: "6.0.0", summary: "Handshake with Redis", complexity: "O(1)",
    args: "arguments=[protover:integer [AUTH (username:string password:string)] [SETNAME clientname:string]]",
    history: [["6.2.0", "`protover` made optional; when called without arguments the command reports the current connection's context."]],
  },
  {
    name: "auth", arity: -2, flags: PRE_AUTH_FLAGS, acl: "connection", group: "connection", since: "1.0.0", summary: "Authenticate to the server", complexity: "O(N) where N is the number of passwords defined for the user",
    args: "[username:string] password:string", history: [["6.0.0", "Added ACL style (username and password)."]],
  },
  { name: "select", arity: 2, flags: "loading stale fast", acl: "connection", group: "connection", since: "1.0.0", summary: "Change the selected database for the current connection", complexity: "O(1)", args: "index:integer" },
  // Redis 7.0's quit.json has arity -1: QUIT ignores any arguments.
  { name: "quit", arity: -1, flags: PRE_AUTH_FLAGS, acl: "connection", group: "connection", since: "1.0.0", summary: "Close the connection", complexity: "O(1)" },
  { name: "reset", arity: 1, flags: PRE_AUTH_FLAGS, acl: "connection", group: "connection", since: "6.2.0", summary: "Reset the connection", complexity: "O(1)" },
  { name: "client", ...CONTAINER, group: "connection", since: "2.4.0", summary: "A container for client connection commands", subcommands: CLIENT_SUBCOMMANDS },
  // server
  {
    name: "command", arity: -1, flags: "loading stale", acl: "connection", group: "server", since: "2.8.13", summary: "Get array of Redis command details",
    complexity: "O(N) where N is the total number of Redis commands", tips: ORDER_TIP, subcommands: COMMAND_SUBCOMMANDS,
  },
  { name: "config", ...CONTAINER, group: "server", since: "2.0.0", summary: "A container for server configuration commands", subcommands: CONFIG_SUBCOMMANDS },
  {
    name: "info", arity: -1, flags: "loading stale", acl: "dangerous", group: "server", since: "1.0.0", summary: "Get information and statistics about the server", complexity: "O(1)",
    tips: "nondeterministic_output request_policy:all_shards response_policy:special", args: "[section:string ...]", history: [["7.0.0", "Added support for taking multiple section arguments."]],
  },
  // generic
  {
    name: "wait", arity: 3, flags: "noscript", acl: "connection", group: "generic", since: "3.0.0",
    summary: "Wait for the synchronous replication of all the write commands sent in the context of the current connection", complexity: "O(1)",
    tips: "request_policy:all_shards response_policy:agg_min", args: "numreplicas:integer timeout:integer",
  },
  {
    name: "migrate", arity: -6, flags: "write", acl: "keyspace dangerous", group: "generic", since: "2.6.0", summary: "Atomically transfer a key from a Redis instance to another one.",
    complexity: "This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the target instance. See the pages of these commands for time complexity. Also an O(N) data transfer between the two instances is performed.",
    tips: NONDETERMINISTIC, keys: [atIndex("RW access delete", 3), afterKeyword("RW access delete incomplete", "KEYS", -2, -1)],
    args: 'host:string port:integer key_or_empty_string=(key:key|empty_string="") destination-db:integer timeout:integer [COPY] [REPLACE] authentication=[[AUTH password:string]|[AUTH2 (username:string password:string)]] [KEYS key:key ...]',
    history: [["3.0.0", "Added the `COPY` and `REPLACE` options."], ["3.0.6", "Added the `KEYS` option."], ["4.0.7", "Added the `AUTH` option."], ["6.0.0", "Added the `AUTH2` option."]],
  },
  // transactions
  { name: "multi", arity: 1, flags: TX_FLAGS, acl: "transaction", group: "transactions", since: "1.2.0", summary: "Mark the start of a transaction block", complexity: "O(1)" },
  { name: "exec", arity: 1, flags: "noscript loading stale skip_slowlog", acl: "transaction", group: "transactions", since: "1.2.0", summary: "Execute all commands issued after MULTI", complexity: "Depends on commands in the transaction" },
  { name: "discard", arity: 1, flags: TX_FLAGS, acl: "transaction", group: "transactions", since: "2.0.0", summary: "Discard all commands issued after MULTI", complexity: "O(N), when N is the number of queued commands" },
  {
    name: "watch", arity: -2, flags: TX_FLAGS, acl: "transaction", group: "transactions", since: "2.2.0", summary: "Watch the given keys to determine execution of the MULTI/EXEC block",
    complexity: "O(1) for every key.", keys: keysFrom1("RO"), args: "key:key ...",
  },
  { name: "unwatch", arity: 1, flags: TX_FLAGS, acl: "transaction", group: "transactions", since: "2.2.0", summary: "Forget about all watched keys", complexity: "O(1)" },
  // cluster
  { name: "cluster", ...CONTAINER, group: "cluster", since: "3.0.0", summary: "A container for cluster commands", subcommands: CLUSTER_SUBCOMMANDS },
  { name: "readonly", arity: 1, flags: "loading stale fast", acl: "connection", group: "cluster", since: "3.0.0", summary: "Enables read queries for a connection to a cluster replica node", complexity: "O(1)" },
  { name: "readwrite", arity: 1, flags: "loading stale fast", acl: "connection", group: "cluster", since: "3.0.0", summary: "Disables read queries for a connection to a cluster replica node", complexity: "O(1)" },
  { name: "asking", arity: 1, flags: "fast", acl: "connection", group: "cluster", since: "3.0.0", summary: "Sent by cluster clients after an -ASK redirect", complexity: "O(1)" },
  // pubsub
  {
    name: "publish", arity: 3, flags: "pubsub loading stale fast", acl: "", group: "pubsub", since: "2.0.0", summary: "Post a message to a channel",
    complexity: "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).", args: "channel:string message:string",
  },
  {
    name: "spublish", arity: 3, flags: "pubsub loading stale fast", acl: "", group: "pubsub", since: "7.0.0", summary: "Post a message to a shard channel",
    complexity: "O(N) where N is the number of clients subscribed to the receiving shard channel.", keys: key1("not_key"), args: "shardchannel:string message:string",
  },
  {
    name: "subscribe", arity: -2, flags: PUBSUB_NOSCRIPT, acl: "", group: "pubsub", since: "2.0.0", summary: "Listen for messages published to the given channels",
    complexity: "O(N) where N is the number of channels to subscribe to.", args: "channel:string ...",
  },
  {
    name: "psubscribe", arity: -2, flags: PUBSUB_NOSCRIPT, acl: "", group: "pubsub", since: "2.0.0", summary: "Listen for messages published to channels matching the given patterns",
    complexity: "O(N) where N is the number of patterns the client is already subscribed to.", args: "pattern=(pattern:pattern) ...",
  },
  {
    name: "unsubscribe", arity: -1, flags: PUBSUB_NOSCRIPT, acl: "", group: "pubsub", since: "2.0.0", summary: "Stop listening for messages posted to the given channels",
    complexity: "O(N) where N is the number of clients already subscribed to a channel.", args: "[channel:string ...]",
  },
  {
    name: "punsubscribe", arity: -1, flags: PUBSUB_NOSCRIPT, acl: "", group: "pubsub", since: "2.0.0", summary: "Stop listening for messages posted to channels matching the given patterns",
    complexity: "O(N+M) where N is the number of patterns the client is already subscribed and M is the number of total patterns subscribed in the system (by any client).", args: "[pattern:pattern ...]",
  },
  {
    name: "ssubscribe", arity: -2, flags: PUBSUB_NOSCRIPT, acl: "", group: "pubsub", since: "7.0.0", summary: "Listen for messages published to the given shard channels",
    complexity: "O(N) where N is the number of shard channels to subscribe to.", keys: keysFrom1("not_key"), args: "shardchannel:string ...",
  },
  {
    name: "sunsubscribe", arity: -1, flags: PUBSUB_NOSCRIPT, acl: "", group: "pubsub", since: "7.0.0", summary: "Stop listening for messages posted to the given shard channels",
    complexity: "O(N) where N is the number of clients already subscribed to a shard channel.", keys: keysFrom1("not_key"), args: "[shardchannel:string ...]",
  },
  { name: "pubsub", ...CONTAINER, group: "pubsub", since: "2.8.0", summary: "A container for Pub/Sub commands", subcommands: PUBSUB_SUBCOMMANDS },
];

// ---------------------------------------------------------------------------------------------
// Building entries
// ---------------------------------------------------------------------------------------------

/** COMMAND INFO's flags in the order Redis prints them (server.c addReplyFlagsForCommand). */
const FLAG_ORDER: readonly string[] = [
  "write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript", "blocking", "loading", "stale", "skip_monitor", "skip_slowlog",
  "asking", "fast", "no_auth", "no_mandatory_keys", "no_async_loading", "no_multi", "movablekeys", "allow_busy",
];

/** ACL categories in the order Redis prints them (acl.c ACLCommandCategories). */
const ACL_ORDER: readonly string[] = [
  "keyspace", "read", "write", "set", "sortedset", "list", "hash", "string", "bitmap", "hyperloglog", "geo", "stream",
  "pubsub", "admin", "fast", "slow", "blocking", "dangerous", "connection", "transaction", "scripting",
].map((c) => `@${c}`);

function orderedFlags(flags: Iterable<string>): string[] {
  const out = [...new Set(flags)].filter((f) => f !== "");
  for (const f of out) assert(FLAG_ORDER.includes(f), `command-table: unknown flag '${f}'`);
  return out.sort((a, b) => FLAG_ORDER.indexOf(a) - FLAG_ORDER.indexOf(b));
}

/** The declared categories plus those server.c's setImplicitACLCategories derives from the flags. */
function aclCategories(declared: string, flags: readonly string[]): string[] {
  const cats = new Set(declared.split(" ").filter((c) => c !== "").map((c) => `@${c}`));
  if (flags.includes("write")) cats.add("@write");
  if (flags.includes("readonly")) cats.add("@read");
  if (flags.includes("admin")) cats.add("@admin").add("@dangerous");
  if (flags.includes("pubsub")) cats.add("@pubsub");
  if (flags.includes("fast")) cats.add("@fast");
  if (flags.includes("blocking")) cats.add("@blocking");
  if (!cats.has("@fast")) cats.add("@slow");
  for (const c of cats) assert(ACL_ORDER.includes(c), `command-table: unknown ACL category '${c}'`);
  return [...cats].sort((a, b) => ACL_ORDER.indexOf(a) - ACL_ORDER.indexOf(b));
}

/** Redis's unsigned comparison of last-key positions: a negative (from the end) one always wins. */
function laterLastKey(a: number, b: number): number {
  return a >>> 0 >= b >>> 0 ? a : b;
}

/**
 * The legacy (first, last, step) COMMAND INFO derives from the key specs, and whether the command
 * has "movablekeys": server.c's populateCommandLegacyRangeSpec, which glues consecutive index/range
 * specs of step 1 and flags everything it cannot express.
 */
function legacyRange(specs: readonly KeySpec[]): { firstKey: number; lastKey: number; step: number; movable: boolean } {
  const none = { firstKey: 0, lastKey: 0, step: 0 };
  const [only] = specs;
  if (only === undefined) return { ...none, movable: false };
  if (specs.length === 1 && only.beginSearch.type === "index") {
    const first = only.beginSearch.index;
    const last = only.findKeys.lastKey;
    return { firstKey: first, lastKey: last >= 0 ? last + first : last, step: only.findKeys.keyStep, movable: only.flags.includes("incomplete") };
  }
  let first = Number.MAX_SAFE_INTEGER;
  let last = 0;
  let prevLast = 0;
  let movable = false;
  for (const spec of specs) {
    if (spec.beginSearch.type !== "index" || spec.findKeys.keyStep !== 1 || (prevLast !== 0 && prevLast !== spec.beginSearch.index - 1)) {
      movable = true;
      continue;
    }
    if (spec.flags.includes("incomplete")) movable = true;
    first = Math.min(first, spec.beginSearch.index);
    const specLast = spec.findKeys.lastKey >= 0 ? spec.findKeys.lastKey + spec.beginSearch.index : spec.findKeys.lastKey;
    last = laterLastKey(last, specLast);
    prevLast = last;
  }
  if (first === Number.MAX_SAFE_INTEGER) return { ...none, movable: true };
  return { firstKey: first, lastKey: last, step: 1, movable };
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** An entry from its docs and the COMMAND INFO core (name, arity, flags, legacy keys). */
function entryOf(
  name: string,
  docs: Docs,
  core: { arity: number; flags: readonly string[]; firstKey: number; lastKey: number; step: number },
  subcommands?: ReadonlyMap<string, CommandEntry>,
): CommandEntry {
  const e: Mutable<CommandEntry> = {
    name,
    arity: core.arity,
    flags: core.flags,
    root: name.split("|")[0] as string,
    writes: core.flags.includes("write"),
    readOnly: core.flags.includes("readonly"),
    firstKey: core.firstKey,
    lastKey: core.lastKey,
    step: core.step,
    aclCategories: aclCategories(docs.acl, core.flags),
    tips: docs.tips === undefined ? [] : docs.tips.split(" "),
    keySpecs: docs.keys ?? [],
    summary: docs.summary,
    since: docs.since,
    group: docs.group,
  };
  if (subcommands !== undefined) e.subcommands = subcommands;
  if (docs.complexity !== undefined) e.complexity = docs.complexity;
  if (docs.deprecated !== undefined) {
    e.docFlags = ["deprecated"];
    e.deprecatedSince = docs.deprecated.since;
    e.replacedBy = docs.deprecated.replacedBy;
  }
  if (docs.syscmd === true) e.docFlags = ["syscmd"];
  if (docs.history !== undefined) e.history = docs.history;
  if (docs.args !== undefined) e.arguments = parseSynopsis(docs.args);
  return e;
}

function nodeEntry(row: NodeRow, parent?: string): CommandEntry {
  const name = parent === undefined ? row.name : `${parent}|${row.name}`;
  const legacy = legacyRange(row.keys ?? []);
  const flags = orderedFlags([...row.flags.split(" "), ...(legacy.movable ? ["movablekeys"] : [])]);
  const subs = row.subcommands === undefined ? undefined : new Map(sortedByName(row.subcommands).map((s) => [s.name, nodeEntry(s, name)] as const));
  return entryOf(name, row, { arity: row.arity, flags, ...legacy }, subs);
}

function keyspaceEntry(spec: CommandSpec, docs: KeyspaceDocs): CommandEntry {
  const legacy = legacyRange(docs.keys ?? []);
  const flags = orderedFlags([...spec.flags, ...(docs.extraFlags?.split(" ") ?? []), ...(legacy.movable ? ["movablekeys"] : [])]);
  return entryOf(spec.name, docs, { arity: spec.arity, flags, firstKey: spec.firstKey, lastKey: spec.lastKey, step: spec.step });
}

function sortedByName<T extends { readonly name: string }>(rows: readonly T[]): T[] {
  return [...rows].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function buildTable(): ReadonlyMap<string, CommandEntry> {
  const entries: CommandEntry[] = NODE_COMMANDS.map((row) => nodeEntry(row));
  for (const [name, spec] of COMMANDS) {
    const docs = KEYSPACE_DOCS.get(name);
    assert(docs !== undefined, `command-table: no docs for keyspace command '${name}'; add it to KEYSPACE_DOCS`);
    entries.push(keyspaceEntry(spec, docs));
  }
  for (const name of KEYSPACE_DOCS.keys()) {
    assert(COMMANDS.has(name) || OPTIONAL_KEYSPACE_COMMANDS.has(name), `command-table: KEYSPACE_DOCS has '${name}', which the keyspace does not serve`);
  }
  const table = new Map(sortedByName(entries).map((e) => [e.name, e] as const));
  assert(table.size === entries.length, "command-table: a command is declared twice");
  return table;
}

// ---------------------------------------------------------------------------------------------
// Argument synopses (COMMAND DOCS "arguments")
// ---------------------------------------------------------------------------------------------
//
// A compact notation for Redis's argument trees, close to how redis-cli prints hints:
//   name:type           a scalar: type is key, string, integer, double, pattern or unix-time
//   TOKEN               a pure token (named after it in lower case); TOKEN before a scalar or a
//                       ( group ) is that argument's token: "EX seconds:integer"
//   [ ... ]  ( ... )    an optional / a required group; alternatives separated by | make a oneof,
//                       several items a block, one item is just that item
//   ...                 after an item: it repeats (multiple)
//   name=               before a group or a pure token: its name (else the members' names joined
//                       with "_", Redis's own convention, e.g. "key_value")
//   ""                  the empty token: Redis 7.0's generator turned migrate.json's "\"\"" into
//                       the C literal """" (two empty strings), so MIGRATE's empty_string token
//                       is empty in its COMMAND DOCS
// Key arguments get key_spec_index 0, 1, … in order, which holds for every command here.

const SCALAR_TYPES: ReadonlySet<string> = new Set(["key", "string", "integer", "double", "pattern", "unix-time"]);
const LEXEME = /\.\.\.|[()[\]|]|[^\s()[\]|]+/g;

type ArgDraft = Mutable<DocArg> & { arguments?: ArgDraft[] };

const isNameLexeme = (l: string): boolean => l.endsWith("=");
const isScalarLexeme = (l: string): boolean => l.includes(":");
const isTokenLexeme = (l: string): boolean => !/^(\.\.\.|[()[\]|])$/.test(l) && !isNameLexeme(l) && !isScalarLexeme(l);

class SynopsisParser {
  private at = 0;

  constructor(
    private readonly lexemes: readonly string[],
    private readonly text: string,
  ) {}

  parse(): ArgDraft[] {
    const args = this.sequence();
    assert(this.at === this.lexemes.length, `synopsis '${this.text}': unexpected '${this.lexemes[this.at]}'`);
    return args;
  }

  /** Items up to a closing bracket, a "|" or the end. */
  private sequence(): ArgDraft[] {
    const items: ArgDraft[] = [];
    for (let l = this.peek(0); l !== undefined && l !== ")" && l !== "]" && l !== "|"; l = this.peek(0)) items.push(this.item());
    return items;
  }

  private item(): ArgDraft {
    let name = this.takeName();
    let token: string | undefined;
    const l = this.peek(0);
    if (l !== undefined && isTokenLexeme(l) && this.startsOperand(1)) {
      token = this.take();
      name ??= this.takeName();
    }
    const arg = this.atom(name, token);
    if (this.peek(0) === "...") {
      this.take();
      arg.multiple = true;
    }
    return arg;
  }

  /** Whether the lexeme `k` ahead starts what a token can prefix: a scalar or a ( group ). */
  private startsOperand(k: number): boolean {
    const l = this.peek(k);
    if (l === undefined) return false;
    return l === "(" || isScalarLexeme(l) || (isNameLexeme(l) && this.peek(k + 1) === "(");
  }

  private atom(name: string | undefined, token: string | undefined): ArgDraft {
    const l = this.take();
    if (l === "(" || l === "[") {
      const alternatives = [this.sequence()];
      while (this.peek(0) === "|") {
        this.take();
        alternatives.push(this.sequence());
      }
      assert(this.take() === (l === "(" ? ")" : "]"), `synopsis '${this.text}': unbalanced '${l}'`);
      const arg = group(alternatives, name, token);
      if (l === "[") arg.optional = true;
      return arg;
    }
    if (isScalarLexeme(l)) {
      const [scalarName = "", type = ""] = l.split(":");
      assert(SCALAR_TYPES.has(type), `synopsis '${this.text}': unknown type '${type}'`);
      return draft(scalarName, type as DocArgType, token);
    }
    assert(isTokenLexeme(l) && token === undefined, `synopsis '${this.text}': unexpected '${l}'`);
    return draft(name ?? l.toLowerCase(), "pure-token", l === '""' ? "" : l);
  }

  private takeName(): string | undefined {
    const l = this.peek(0);
    if (l === undefined || !isNameLexeme(l)) return undefined;
    this.take();
    return l.slice(0, -1);
  }

  private peek(k: number): string | undefined {
    return this.lexemes[this.at + k];
  }

  private take(): string {
    const l = this.lexemes[this.at++];
    assert(l !== undefined, `synopsis '${this.text}' ends too early`);
    return l;
  }
}

function draft(name: string, type: DocArgType, token: string | undefined, args?: ArgDraft[]): ArgDraft {
  const arg: ArgDraft = { name, type, optional: false, multiple: false };
  if (token !== undefined) arg.token = token;
  if (args !== undefined) arg.arguments = args;
  return arg;
}

/** A bracketed group: a oneof of its alternatives, a block of its items, or its only item. */
function group(alternatives: ArgDraft[][], name: string | undefined, token: string | undefined): ArgDraft {
  if (alternatives.length > 1) {
    const members = alternatives.map((seq) => (seq.length === 1 ? (seq[0] as ArgDraft) : draft(joinedName(seq), "block", undefined, seq)));
    return draft(name ?? joinedName(members), "oneof", token, members);
  }
  const seq = alternatives[0] as ArgDraft[];
  if (seq.length === 1 && name === undefined && token === undefined) return seq[0] as ArgDraft;
  return draft(name ?? joinedName(seq), "block", token, seq);
}

function joinedName(args: readonly ArgDraft[]): string {
  return args.map((a) => a.name).join("_");
}

/** The argument tree a synopsis describes (see the notation above). */
function parseSynopsis(text: string): readonly DocArg[] {
  const lexemes: string[] = [];
  for (const [word] of text.matchAll(LEXEME)) {
    const eq = word.indexOf("=");
    if (eq > 0 && !isScalarLexeme(word)) {
      lexemes.push(word.slice(0, eq + 1));
      if (eq + 1 < word.length) lexemes.push(word.slice(eq + 1));
    } else {
      lexemes.push(word);
    }
  }
  const args = new SynopsisParser(lexemes, text).parse();
  let keySpecIndex = 0;
  const numberKeys = (list: readonly ArgDraft[]): void => {
    for (const a of list) {
      if (a.type === "key") a.keySpecIndex = keySpecIndex++;
      if (a.arguments !== undefined) numberKeys(a.arguments);
    }
  };
  numberKeys(args);
  return args;
}

// ---------------------------------------------------------------------------------------------
// The table and lookups
// ---------------------------------------------------------------------------------------------

/** Every top-level command the node serves, by lower-case name, in alphabetical order. */
export const COMMAND_TABLE: ReadonlyMap<string, CommandEntry> = buildTable();

/**
 * The table again under each name in lower and in upper case, the spellings clients send
 * ("get" from ioredis and node-redis, "GET" from redis-cli and redis-benchmark): found without
 * lower-casing a copy of the name on every request. Other spellings take the lower-case path.
 */
const BY_EXACT_CASE: ReadonlyMap<string, CommandEntry> = new Map(
  [...COMMAND_TABLE].flatMap(([name, e]) => [[name, e] as const, [name.toUpperCase(), e] as const]),
);

/** Redis's arity rule. */
function arityOk(arity: number, argc: number): boolean {
  return arity > 0 ? argc === arity : argc >= -arity;
}

/** server.c's lookupCommand (not strict): a container's subcommand when there is a second argument. */
function findCommand(args: readonly string[]): CommandEntry | undefined {
  const name = args[0] ?? "";
  const base = BY_EXACT_CASE.get(name) ?? COMMAND_TABLE.get(name.toLowerCase());
  if (base?.subcommands === undefined || args.length === 1) return base;
  return base.subcommands.get((args[1] as string).toLowerCase());
}

/** server.c's lookupCommandBySds: "get" or "cluster|nodes", case-insensitive; nothing else. */
function findByFullName(fullName: string): CommandEntry | undefined {
  const parts = fullName.toLowerCase().split("|");
  const base = COMMAND_TABLE.get(parts[0] as string);
  if (parts.length === 1) return base;
  return parts.length === 2 ? base?.subcommands?.get(parts[1] as string) : undefined;
}

/**
 * The entry a request runs: for containers, the subcommand's ("cluster|nodes"); or the error
 * reply processCommand gives, in Redis 7's words — unknown command, unknown subcommand, arity.
 */
export function lookupCommand(args: readonly string[]): { entry: CommandEntry } | { error: RespValue } {
  const entry = findCommand(args);
  if (entry === undefined) {
    const base = COMMAND_TABLE.get((args[0] ?? "").toLowerCase());
    if (base === undefined) return { error: unknownCommandError(args) };
    const sub = byteStringToText((args[1] as string).slice(0, 128));
    return { error: Resp.error(`ERR unknown subcommand '${sub}'. Try ${upperAscii(args[0] as string)} HELP.`) };
  }
  if (!arityOk(entry.arity, args.length)) return { error: Resp.error(`ERR wrong number of arguments for '${entry.name}' command`) };
  return { entry };
}

const NO_KEYS: readonly number[] = Object.freeze([]);

/**
 * The indexes of the key arguments the router checks for slots and CROSSSLOT, as cluster.c's
 * getNodeByQuery finds them in 7.0: MIGRATE by its own rule, every other command by its legacy
 * (first, last, step) — which for the shard-channel commands covers the channels. `args` passed
 * lookupCommand; [] for keyless commands.
 */
export function keyIndexes(entry: CommandEntry, args: readonly string[]): readonly number[] {
  if (entry.name === "migrate") return migrateKeyIndexes(args);
  if (entry.firstKey === 0) return NO_KEYS;
  const last = entry.lastKey < 0 ? args.length + entry.lastKey : entry.lastKey;
  const out: number[] = [];
  for (let i = entry.firstKey; i <= last; i += entry.step) {
    // Only a command of variable arity gets here short of arguments: Redis finds no keys then.
    if (i >= args.length) return NO_KEYS;
    out.push(i);
  }
  return out;
}

/** db.c's migrateGetKeys: the key at 3, or everything after KEYS when that key is empty. */
function migrateKeyIndexes(args: readonly string[]): readonly number[] {
  let first = 3;
  let count = 1;
  if (args[3] === "") {
    for (let i = 6; i < args.length; i++) {
      if ((args[i] as string).toLowerCase() === "keys") {
        first = i + 1;
        count = args.length - first;
        break;
      }
    }
  }
  return Array.from({ length: count }, (_, k) => first + k);
}

/** Whether the command writes (its "write" flag). */
export function isWrite(entry: CommandEntry): boolean {
  return entry.writes;
}

// ---------------------------------------------------------------------------------------------
// COMMAND GETKEYS / GETKEYSANDFLAGS: db.c's getKeysFromCommandWithSpecs
// ---------------------------------------------------------------------------------------------

interface KeyRef {
  readonly pos: number;
  readonly flags: readonly KeySpecFlag[];
}

/** db.c's setGetKeys: SET's key flags depend on its GET option. */
function setKeys(args: readonly string[]): KeyRef[] {
  const get = args.slice(3).some((a) => a.toLowerCase() === "get");
  return [{ pos: 1, flags: get ? ["RW", "access", "update"] : ["OW", "update"] }];
}

/** db.c's migrateGetKeys, with the flags it reports. */
function migrateKeys(args: readonly string[]): KeyRef[] {
  return migrateKeyIndexes(args).map((pos) => ({ pos, flags: ["RW", "access", "delete"] }));
}

/** The commands that have a getkeys_proc in Redis 7.0, among those served here. */
const GETKEYS_PROCS: ReadonlyMap<string, (args: readonly string[]) => KeyRef[]> = new Map([
  ["set", setKeys],
  ["migrate", migrateKeys],
]);

/** db.c's doesCommandHaveKeys: a getkeys_proc, or a key spec that finds real keys. */
function hasKeys(entry: CommandEntry): boolean {
  return GETKEYS_PROCS.has(entry.name) || entry.keySpecs.some((s) => !s.flags.includes("not_key"));
}

/** db.c's getKeysUsingKeySpecs (without not_key specs): the keys, or null when a spec cannot tell. */
function keysFromSpecs(specs: readonly KeySpec[], args: readonly string[]): KeyRef[] | null {
  const keys: KeyRef[] = [];
  for (const spec of specs) {
    if (spec.flags.includes("not_key")) continue;
    let first: number;
    if (spec.beginSearch.type === "index") {
      first = spec.beginSearch.index;
    } else {
      first = keywordEnd(spec.beginSearch.keyword, spec.beginSearch.startFrom, args);
      if (first === 0) continue;
    }
    const { lastKey, keyStep } = spec.findKeys;
    const last = lastKey >= 0 ? first + lastKey : args.length + lastKey;
    if (last >= args.length || last < first || first >= args.length) return null;
    for (let i = first; i <= last; i += keyStep) keys.push({ pos: i, flags: spec.flags });
    if (spec.flags.includes("incomplete")) return null;
  }
  return keys;
}

/** The index after `keyword` (case-insensitive), searched from `startFrom`; 0 when absent. */
function keywordEnd(keyword: string, startFrom: number, args: readonly string[]): number {
  const start = startFrom > 0 ? startFrom : args.length + startFrom;
  const end = startFrom > 0 ? args.length - 1 : 1;
  const dir = start <= end ? 1 : -1;
  for (let i = start; i !== end; i += dir) {
    if (i >= args.length || i < 1) break;
    if ((args[i] as string).toLowerCase() === keyword.toLowerCase()) return i + 1;
  }
  return 0;
}

/** The keys of `args` as COMMAND GETKEYS finds them: key specs first, then the command's own rule. */
function keysOf(entry: CommandEntry, args: readonly string[]): KeyRef[] {
  const hasKeySpec = entry.keySpecs.some((s) => !s.flags.includes("not_key"));
  const variableFlags = entry.keySpecs.some((s) => s.flags.includes("variable_flags"));
  if (hasKeySpec && !variableFlags) {
    const keys = keysFromSpecs(entry.keySpecs, args);
    if (keys !== null) return keys;
  }
  return GETKEYS_PROCS.get(entry.name)?.(args) ?? [];
}

/** COMMAND GETKEYS / GETKEYSANDFLAGS of the command `args`: server.c's getKeysSubcommandImpl. */
function getKeysReply(args: readonly string[], withFlags: boolean): RespValue {
  const entry = findCommand(args);
  if (entry === undefined) return Resp.error("ERR Invalid command specified");
  if (!hasKeys(entry)) return Resp.error("ERR The command has no key arguments");
  if (!arityOk(entry.arity, args.length)) return Resp.error("ERR Invalid number of arguments specified for command");
  const keys = keysOf(entry, args);
  // Unreachable with today's table (every key spec here always finds its keys), kept as Redis has it.
  if (keys.length === 0) return Resp.error("ERR Invalid arguments specified for command");
  return Resp.array(keys.map((k) => (withFlags ? Resp.array([bulk(args[k.pos] as string), statusSet(k.flags)]) : bulk(args[k.pos] as string))));
}

// ---------------------------------------------------------------------------------------------
// COMMAND replies
// ---------------------------------------------------------------------------------------------

const text = (s: string): RespValue => Resp.bulk(s);
const statusSet = (names: readonly string[]): RespValue => Resp.set(names.map(Resp.simple));

function keySpecReply(spec: KeySpec): RespValue {
  const pairs: RespPair[] = [];
  if (spec.notes !== undefined) pairs.push([text("notes"), text(spec.notes)]);
  const bs = spec.beginSearch;
  const bsSpec: RespPair[] =
    bs.type === "index" ? [[text("index"), Resp.integer(bs.index)]] : [[text("keyword"), text(bs.keyword)], [text("startfrom"), Resp.integer(bs.startFrom)]];
  const fk = spec.findKeys;
  pairs.push(
    [text("flags"), statusSet(spec.flags)],
    [text("begin_search"), Resp.map([[text("type"), text(bs.type)], [text("spec"), Resp.map(bsSpec)]])],
    [
      text("find_keys"),
      Resp.map([
        [text("type"), text("range")],
        [text("spec"), Resp.map([[text("lastkey"), Resp.integer(fk.lastKey)], [text("keystep"), Resp.integer(fk.keyStep)], [text("limit"), Resp.integer(fk.limit)]])],
      ]),
    ],
  );
  return Resp.map(pairs);
}

const infoCache = new Map<CommandEntry, RespValue>();

/** One COMMAND INFO entry: server.c's addReplyCommandInfo (ten fields). */
function infoReply(e: CommandEntry): RespValue {
  let reply = infoCache.get(e);
  if (reply === undefined) {
    reply = Resp.array([
      text(e.name),
      Resp.integer(e.arity),
      statusSet(e.flags),
      Resp.integer(e.firstKey),
      Resp.integer(e.lastKey),
      Resp.integer(e.step),
      statusSet(e.aclCategories),
      Resp.set(e.tips.map(text)),
      Resp.set(e.keySpecs.map(keySpecReply)),
      e.subcommands === undefined ? Resp.set([]) : Resp.array([...e.subcommands.values()].map(infoReply)),
    ]);
    infoCache.set(e, reply);
  }
  return reply;
}

function argReply(a: DocArg): RespValue {
  const pairs: RespPair[] = [
    [text("name"), text(a.name)],
    [text("type"), text(a.type)],
  ];
  if (a.keySpecIndex !== undefined) pairs.push([text("key_spec_index"), Resp.integer(a.keySpecIndex)]);
  if (a.token !== undefined) pairs.push([text("token"), text(a.token)]);
  const flags = [...(a.optional ? ["optional"] : []), ...(a.multiple ? ["multiple"] : [])];
  if (flags.length > 0) pairs.push([text("flags"), statusSet(flags)]);
  if (a.arguments !== undefined) pairs.push([text("arguments"), Resp.array(a.arguments.map(argReply))]);
  return Resp.map(pairs);
}

const docsCache = new Map<CommandEntry, RespValue>();

/** One COMMAND DOCS entry: server.c's addReplyCommandDocs. */
function docsReply(e: CommandEntry): RespValue {
  let reply = docsCache.get(e);
  if (reply === undefined) {
    const pairs: RespPair[] = [
      [text("summary"), text(e.summary)],
      [text("since"), text(e.since)],
      [text("group"), text(e.group)],
    ];
    if (e.complexity !== undefined) pairs.push([text("complexity"), text(e.complexity)]);
    if (e.docFlags !== undefined) pairs.push([text("doc_flags"), statusSet(e.docFlags)]);
    if (e.deprecatedSince !== undefined) pairs.push([text("deprecated_since"), text(e.deprecatedSince)]);
    if (e.replacedBy !== undefined) pairs.push([text("replaced_by"), text(e.replacedBy)]);
    if (e.history !== undefined) pairs.push([text("history"), Resp.set(e.history.map(([since, change]) => Resp.array([text(since), text(change)])))]);
    if (e.arguments !== undefined) pairs.push([text("arguments"), Resp.array(e.arguments.map(argReply))]);
    if (e.subcommands !== undefined) pairs.push([text("subcommands"), Resp.map([...e.subcommands.values()].map((s) => [text(s.name), docsReply(s)] as const))]);
    reply = Resp.map(pairs);
    docsCache.set(e, reply);
  }
  return reply;
}

const COMMAND_HELP: readonly string[] = [
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
];

const SYNTAX_ERROR = Resp.error("ERR syntax error");

/** ASCII lower-casing, as stringmatchlen's nocase compares (command names are ASCII). */
function lowerAscii(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/** COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: server.c's commandListCommand. */
function listReply(args: readonly string[]): RespValue {
  let keep: (e: CommandEntry) => boolean = () => true;
  for (let i = 1; i < args.length; i++) {
    if ((args[i] as string).toLowerCase() !== "filterby" || args.length - 1 - i !== 2) return SYNTAX_ERROR;
    const kind = (args[i + 1] as string).toLowerCase();
    const arg = args[i + 2] as string;
    if (kind === "module") {
      keep = () => false; // no modules here
    } else if (kind === "aclcat") {
      const category = `@${lowerAscii(arg)}`;
      keep = (e) => e.aclCategories.includes(category);
    } else if (kind === "pattern") {
      const pattern = lowerAscii(arg);
      keep = (e) => globMatch(pattern, e.name);
    } else {
      return SYNTAX_ERROR;
    }
    i += 2;
  }
  const names: RespValue[] = [];
  for (const e of COMMAND_TABLE.values()) {
    if (keep(e)) names.push(text(e.name));
    for (const s of e.subcommands?.values() ?? []) if (keep(s)) names.push(text(s.name));
  }
  return Resp.array(names);
}

/**
 * COMMAND and its subcommands. `args` are the arguments after COMMAND ([] for COMMAND itself,
 * ["INFO", "get"], …). COUNT, LIST [FILTERBY …], INFO [names…] (none: all; unknown: null),
 * DOCS [names…] (none: all; unknown: left out), GETKEYS, GETKEYSANDFLAGS and HELP reply as
 * Redis 7.0's do; an unknown subcommand or a wrong argument count gets processCommand's error.
 */
export function commandCommand(args: readonly string[]): RespValue {
  const found = lookupCommand(["command", ...args]);
  if ("error" in found) return found.error;
  switch (found.entry.name) {
    case "command":
      return Resp.array([...COMMAND_TABLE.values()].map(infoReply));
    case "command|count":
      return Resp.integer(COMMAND_TABLE.size);
    case "command|list":
      return listReply(args);
    case "command|info":
      if (args.length === 1) return Resp.array([...COMMAND_TABLE.values()].map(infoReply));
      return Resp.array(args.slice(1).map((n) => {
        const e = findByFullName(n);
        return e === undefined ? Resp.null : infoReply(e);
      }));
    case "command|docs": {
      const entries = args.length === 1 ? [...COMMAND_TABLE.values()] : args.slice(1).flatMap((n) => findByFullName(n) ?? []);
      return Resp.map(entries.map((e) => [text(e.name), docsReply(e)] as const));
    }
    case "command|getkeys":
      return getKeysReply(args.slice(1), false);
    case "command|getkeysandflags":
      return getKeysReply(args.slice(1), true);
    case "command|help":
      return Resp.array(COMMAND_HELP.map(Resp.simple));
    default:
      throw new Error(`command-table: COMMAND subcommand '${found.entry.name}' has no handler`);
  }
}
