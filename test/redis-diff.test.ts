// Differential tests: the same inputs against a real redis-server 7.0.15 and against our pure
// implementations, comparing reply bytes (or parsed values where Redis's order is a hash table's).
// Goal: prove that core/keyspace, core/cluster's formats and command table, and core/resp's request
// parser answer as redis-server 7.0 does, and pin every place where we differ on purpose.
// Method: start redis-server (test/redis-server.ts) — one standalone, and a cluster-mode master
// owning every slot with its replica — replay the keyspace's own command tables, our own extra
// inputs and random command sequences on both sides, print CLUSTER NODES/INFO/SLOTS/SHARDS and
// INFO from views filled with what Redis reports, compare COMMAND INFO/DOCS and HELLO, and send
// malformed requests to both request parsers.
//
// Without redis-server on PATH the suite is skipped with a visible reason, except on CI
// (CI=true), where it must be installed and its absence fails.

import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bytesToByteString, byteStringToBytes } from "../core/keyspace/bytes.js";
import { COMMANDS } from "../core/keyspace/commands.js";
import { Keyspace } from "../core/keyspace/keyspace.js";
import { type Case, DISPATCH, GENERIC, HASHES, LISTS, RESTORE_ERRORS, SETS, STATE, STRINGS, words } from "../core/keyspace/test-support/command-cases.js";
import { type ClusterView, clusterInfo, clusterNodes, clusterShards, clusterSlots, type NodeView } from "../core/cluster/format.js";
import { COMMAND_TABLE, commandCommand } from "../core/cluster/command-table.js";
import type { Replication } from "../core/cluster/data.js";
import { type InfoView, info } from "../core/cluster/info.js";
import { Server, type ServerHost } from "../core/cluster/server.js";
import { SlotSet } from "../core/cluster/slots.js";
import { FLAG } from "../core/cluster/types.js";
import { type Protocol, RequestParser, type RequestLimits, Resp, ReplyParser, type RespValue, encodeReply } from "../core/resp/codec.js";
import { type RawReply, type RedisClient, RedisServer, redisServerPath } from "./redis-server.js";

const REDIS_SERVER = redisServerPath();
const MISSING = "redis-server not installed: apt-get install redis-server";

if (REDIS_SERVER === null) {
  if (process.env["CI"] === "true") {
    it("redis-server is installed (CI installs it)", () => {
      throw new Error(`${MISSING} (CI must have it)`);
    });
  } else {
    console.warn(`test/redis-diff.test.ts skipped: ${MISSING}`);
    it.skip(MISSING, () => {});
  }
}

// ---------------------------------------------------------------------------------------------
// Comparing replies
// ---------------------------------------------------------------------------------------------

/** Bytes as readable text for failure messages: printable ASCII as is, the rest escaped. */
function show(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) {
    if (b === 0x0d) out += "\\r";
    else if (b === 0x0a) out += "\\n";
    else if (b >= 0x20 && b < 0x7f && b !== 0x5c) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return out;
}

/** One value parsed back from bytes with our own client-side parser. */
function parseOne(bytes: Uint8Array): RespValue {
  const p = new ReplyParser();
  p.feed(bytes);
  const v = p.next();
  if (v === null) throw new Error(`not one whole reply: ${show(bytes)}`);
  return v;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return a.length - b.length;
}

/** An array or set reply with its elements in byte order, as text (anything else as it is). */
function unordered(bytes: Uint8Array, protocol: Protocol): string {
  const v = parseOne(bytes);
  if (v.type !== "array" && v.type !== "set") return show(bytes);
  const elements = v.value.map((x) => encodeReply(x, protocol)).sort(compareBytes);
  return `${v.type}[${elements.map(show).join(" ")}]`;
}

/**
 * How a command's reply is compared:
 * - exact: byte for byte (the default);
 * - unordered: as a bag of elements — Redis 7.0 returns SMEMBERS/SINTER/SUNION/SDIFF and KEYS in
 *   hash-table order (intsets sorted), we in insertion order, on purpose (core/keyspace/README.md);
 * - ttl-s / ttl-ms: integers within one second, negative codes (-1, -2) exactly — the two sides
 *   read their clocks a few milliseconds apart;
 * - scan: a whole iteration (from cursor 0 back to 0 in one page) is compared as a bag; any other
 *   page by shape only, since our cursor is a position in key-creation order and Redis's one in
 *   its hash table (full iterations are compared separately);
 * - dump: nil exactly, a payload by type only — payloads are Faultline's own format on purpose.
 * Errors are always compared exactly.
 */
type Mode = "exact" | "unordered" | "ttl-s" | "ttl-ms" | "scan" | "dump";

const MODES: ReadonlyMap<string, Mode> = new Map([
  ["smembers", "unordered"],
  ["sinter", "unordered"],
  ["sunion", "unordered"],
  ["sdiff", "unordered"],
  ["keys", "unordered"],
  ["ttl", "ttl-s"],
  ["expiretime", "ttl-s"],
  ["pttl", "ttl-ms"],
  ["pexpiretime", "ttl-ms"],
  ["scan", "scan"],
  ["dump", "dump"],
]);

const TTL_TOLERANCE: Record<"ttl-s" | "ttl-ms", number> = { "ttl-s": 1, "ttl-ms": 1000 };

/** Ours and Redis's reply to `args` as two texts that must be equal (the mode decides how). */
function comparable(args: readonly string[], ours: Uint8Array, theirs: Uint8Array, protocol: Protocol): [string, string] {
  const mode = MODES.get((args[0] ?? "").toLowerCase()) ?? "exact";
  const a = parseOne(ours);
  const b = parseOne(theirs);
  if (mode === "exact" || a.type === "error" || b.type === "error") return [show(ours), show(theirs)];
  switch (mode) {
    case "unordered":
      return [unordered(ours, protocol), unordered(theirs, protocol)];
    case "scan": {
      // A cursor other than 0 means a different position on each side: compare shapes only.
      const pages = [scanPage(a, protocol), scanPage(b, protocol)];
      const whole = args[1] === "0" && pages.every((p) => p.cursor === "0");
      return pages.map((p) => (whole ? p.text : p.shape)) as [string, string];
    }
    case "dump":
      return [a.type === "bulk" ? "a payload" : show(ours), b.type === "bulk" ? "a payload" : show(theirs)];
    default: {
      if (a.type === "integer" && b.type === "integer") {
        const x = Number(a.value);
        const y = Number(b.value);
        if (x >= 0 && y >= 0 && Math.abs(x - y) <= TTL_TOLERANCE[mode]) return [show(theirs), show(theirs)];
      }
      return [show(ours), show(theirs)];
    }
  }
}

/** One SCAN page: its cursor, its keys as a bag, and its shape. */
function scanPage(v: RespValue, protocol: Protocol): { cursor: string; text: string; shape: string } {
  const [cursor, keys] = v.type === "array" && v.value.length === 2 ? v.value : [];
  if (cursor?.type !== "bulk" || keys?.type !== "array" || !keys.value.every((k) => k.type === "bulk")) {
    return { cursor: "?", text: `not a SCAN page: ${JSON.stringify(v)}`, shape: `not a SCAN page: ${JSON.stringify(v)}` };
  }
  const c = Buffer.from(cursor.value).toString("latin1");
  return { cursor: c, text: `${c} ${unordered(encodeReply(keys, protocol), protocol)}`, shape: "[cursor, [keys…]]" };
}

// ---------------------------------------------------------------------------------------------
// Running command sequences on both sides
// ---------------------------------------------------------------------------------------------

const toWire = (args: readonly string[]): Uint8Array[] => args.map(byteStringToBytes);
const asBytes = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, "latin1"));

/** One command of a sequence, with both replies' bytes. */
interface Step {
  readonly args: readonly string[];
  readonly ours: Uint8Array;
  readonly theirs: Uint8Array;
}

/**
 * Runs each sequence on a fresh keyspace of ours and, after FLUSHALL, on Redis — all sequences
 * in one pipeline. `side` may rewrite a command for one side only (a DUMP payload placeholder).
 * A command ours would block on (BLPOP/BRPOP on empty lists) runs on Redis inside MULTI/EXEC,
 * where Redis answers at once with the null array a timeout gives.
 */
async function runSequences(
  client: RedisClient,
  sequences: readonly (readonly (readonly string[])[])[],
  protocol: Protocol,
  side: { ours?: (args: readonly string[]) => readonly string[]; theirs?: (args: readonly string[]) => readonly string[] } = {},
): Promise<Step[][]> {
  const wire: Uint8Array[][] = [];
  const ours: { args: readonly string[]; reply: Uint8Array; wrapped: boolean }[][] = [];
  for (const seq of sequences) {
    const ks = new Keyspace();
    wire.push([asBytes("FLUSHALL")]);
    const steps: { args: readonly string[]; reply: Uint8Array; wrapped: boolean }[] = [];
    for (const args of seq) {
      const r = ks.exec(side.ours?.(args) ?? args, Date.now());
      const wrapped = r.block !== undefined;
      const theirArgs = toWire(side.theirs?.(args) ?? args);
      if (wrapped) wire.push([asBytes("MULTI")], theirArgs, [asBytes("EXEC")]);
      else wire.push(theirArgs);
      steps.push({ args, reply: encodeReply(r.reply, protocol), wrapped });
    }
    ours.push(steps);
  }
  const raw = await client.pipeline(wire);
  let i = 0;
  const next = (): RawReply => raw[i++] as RawReply;
  return ours.map((steps) => {
    const flush = next().value;
    if (flush.type !== "simple") throw new Error(`FLUSHALL: ${JSON.stringify(flush)}`);
    return steps.map(({ args, reply, wrapped }) => {
      if (!wrapped) return { args, ours: reply, theirs: next().bytes };
      next();
      next();
      const exec = next().value;
      if (exec.type !== "array" || exec.value.length !== 1) throw new Error(`MULTI/EXEC around ${args.join(" ")}: ${JSON.stringify(exec)}`);
      return { args, ours: reply, theirs: encodeReply(exec.value[0] as RespValue, protocol) };
    });
  });
}

/** Every step's reply as comparable text: [ours, Redis's], each line naming its command. */
function sides(steps: readonly Step[], protocol: Protocol): [string[], string[]] {
  const ours: string[] = [];
  const theirs: string[] = [];
  for (const s of steps) {
    const [a, b] = comparable(s.args, s.ours, s.theirs, protocol);
    const cmd = show(asBytes(s.args.join(" ")));
    ours.push(`${cmd} → ${a}`);
    theirs.push(`${cmd} → ${b}`);
  }
  return [ours, theirs];
}

/** Replays the sequences on both sides and expects every reply to agree. */
async function expectSame(client: RedisClient, sequences: readonly (readonly (readonly string[])[])[], protocol: Protocol): Promise<void> {
  for (const steps of await runSequences(client, sequences, protocol)) {
    const [ours, theirs] = sides(steps, protocol);
    expect(ours).toEqual(theirs);
  }
}

// ---------------------------------------------------------------------------------------------
// Keyspace inputs beyond the keyspace's own tables
// ---------------------------------------------------------------------------------------------

/** One ordinary invocation of every keyspace command, on key "k" (and "k2"), for the matrices. */
const SAMPLES: ReadonlyMap<string, readonly string[]> = new Map(
  Object.entries({
    get: ["k"], set: ["k", "v"], setnx: ["k", "v"], getdel: ["k"], getex: ["k", "PERSIST"], mget: ["k", "k2"], mset: ["k", "v", "k2", "w"],
    msetnx: ["k", "v", "k2", "w"], incr: ["k"], decr: ["k"], incrby: ["k", "5"], decrby: ["k", "5"], incrbyfloat: ["k", "1.5"], append: ["k", "x"],
    strlen: ["k"], getrange: ["k", "0", "-1"], setrange: ["k", "1", "x"], del: ["k", "k2"], unlink: ["k"], exists: ["k", "k2"], expire: ["k", "100"],
    pexpire: ["k", "100000"], expireat: ["k", "4102444800"], pexpireat: ["k", "4102444800000"], ttl: ["k"], pttl: ["k"], expiretime: ["k"],
    pexpiretime: ["k"], persist: ["k"], type: ["k"], rename: ["k", "k2"], renamenx: ["k", "k2"], dbsize: [], flushall: [], flushdb: [], keys: ["*"],
    scan: ["0"], dump: ["k"], restore: ["k", "0", "garbage"], "restore-asking": ["k", "0", "garbage"], lpush: ["k", "x"], rpush: ["k", "x"],
    lpushx: ["k", "x"], rpushx: ["k", "x"], lpop: ["k"], rpop: ["k", "2"], blpop: ["k", "0.01"], brpop: ["k2", "k", "0.01"], lrange: ["k", "0", "-1"],
    llen: ["k"], lindex: ["k", "-1"], lset: ["k", "0", "x"], lrem: ["k", "0", "a"], ltrim: ["k", "1", "-1"], linsert: ["k", "AFTER", "a", "x"],
    sadd: ["k", "a", "z"], srem: ["k", "a"], smembers: ["k"], sismember: ["k", "a"], smismember: ["k", "a", "z"], scard: ["k"], sinter: ["k", "k2"],
    sunion: ["k", "k2"], sdiff: ["k", "k2"], sinterstore: ["k2", "k"], sunionstore: ["k2", "k"], sdiffstore: ["k2", "k"], hset: ["k", "f", "v"],
    hsetnx: ["k", "g", "v"], hmset: ["k", "f", "v"], hget: ["k", "f"], hmget: ["k", "f", "g"], hdel: ["k", "f"], hgetall: ["k"], hlen: ["k"],
    hexists: ["k", "f"], hstrlen: ["k", "f"], hincrby: ["k", "f", "1"], hincrbyfloat: ["k", "f", "1.5"], hkeys: ["k"], hvals: ["k"],
  }),
);

/** "k" as each type (and missing), with "k2" holding a string: what the wrong-type matrix runs on. */
const SETUPS: readonly (readonly (readonly string[])[])[] = [
  [],
  [["SET", "k", "7"]],
  [["RPUSH", "k", "a", "b"]],
  [["SADD", "k", "a", "b"]],
  [["HSET", "k", "f", "7"]],
  [["SET", "k", "7"], ["SET", "k2", "x"]],
  [["RPUSH", "k", "a"], ["SADD", "k2", "b"]],
];

/** Inputs the tables in command-cases.ts do not reach: edge indexes, number formats, globs, quoting. */
const EXTRA: readonly (readonly [name: string, commands: readonly string[]])[] = [
  ["SET EXAT in the past", ["SET k v EXAT 1", "GET k", "EXISTS k"]],
  ["SET PXAT 0", ["SET k v PXAT 0"]],
  ["SET GET KEEPTTL", ["SET k a EX 1000", "SET k b GET KEEPTTL", "TTL k"]],
  ["SET XX GET on a list", ["RPUSH k a", "SET k v XX GET"]],
  ["SET EX 1.5", ["SET k v EX 1.5"]],
  ["SET EX with a huge value", ["SET k v EX 99999999999999999999"]],
  ["GETEX options", ["SET k v", "GETEX k EX 1000", "TTL k", "GETEX k PERSIST", "TTL k", "GETEX k EX 0", "GETEX k PX -1", "GETEX k EXAT 1", "EXISTS k"]],
  ["GETEX two options", ["SET k v", "GETEX k EX 10 PX 10", "GETEX k PERSIST EX 10"]],
  ["MSETNX all new", ["MSETNX a 1 b 2", "MGET a b c"]],
  ["INCRBY by int64 extremes", ["INCRBY k 9223372036854775807", "INCRBY k 1", "DECRBY k 9223372036854775807", "DECRBY k 1"]],
  ["INCR on a value with spaces", ["SET k ' 1'", "INCR k", "SET k 1", "APPEND k ' '", "INCR k"]],
  ["INCRBYFLOAT formats", ["INCRBYFLOAT k 1.1", "INCRBYFLOAT k 2.2", "INCRBYFLOAT k 0", "INCRBYFLOAT k -3.3", "INCRBYFLOAT k 1e-5", "INCRBYFLOAT k 123456789.987654321"]],
  ["INCRBYFLOAT large and small", ["SET k 1e300", "INCRBYFLOAT k 1e300", "SET s 1e-300", "INCRBYFLOAT s 0", "INCRBYFLOAT z 5e-324"]],
  ["INCRBYFLOAT on odd values", ["SET k 1.", "INCRBYFLOAT k 1", "SET k .5", "INCRBYFLOAT k 1", "SET k +3", "INCRBYFLOAT k 1", "SET k 0x1p3", "INCRBYFLOAT k 1", "SET k 3", "APPEND k ' '", "INCRBYFLOAT k 1"]],
  ["INCRBYFLOAT with infinity on both sides", ["SET k 1e308", "INCRBYFLOAT k 1e308", "INCRBYFLOAT k -inf", "INCRBYFLOAT k infinity"]],
  ["HINCRBYFLOAT formats", ["HINCRBYFLOAT h f 0.1", "HINCRBYFLOAT h f 0.2", "HINCRBYFLOAT h f 1e20", "HINCRBYFLOAT h f -1e20", "HGET h f", "HINCRBYFLOAT h f abc", "HSET h g 1e400", "HINCRBYFLOAT h g 1"]],
  ["HINCRBY edges", ["HINCRBY h f 9223372036854775807", "HINCRBY h f 1", "HSET h g ' 1'", "HINCRBY h g 1", "HINCRBY h g 9223372036854775808"]],
  ["GETRANGE and SETRANGE extremes", ["SET k Hello", "GETRANGE k -100 -50", "GETRANGE k 3 1", "GETRANGE k 0 9223372036854775807", "GETRANGE k -9223372036854775808 1", "SETRANGE k 0 ''", "SETRANGE nope 0 ''", "EXISTS nope"]],
  ["APPEND and STRLEN binary", ["APPEND k '\x00'", "APPEND k \xff\xfe", "STRLEN k", "GET k"]],
  ["EXPIRE options on missing and persistent keys", ["EXPIRE nope 10 NX", "SET k v", "PEXPIRE k 100000 LT", "PTTL k", "EXPIRE k 10 XX GT", "EXPIRE k 1000 GT", "EXPIRE k 10 gt", "EXPIRE k 10 NX GT"]],
  ["EXPIREAT and PEXPIREAT absolute", ["SET k v", "EXPIREAT k 4102444800", "EXPIRETIME k", "PEXPIRETIME k", "PEXPIREAT k 4102444800001 GT", "PEXPIRETIME k", "EXPIREAT k 4102444800 LT", "PEXPIRETIME k", "PERSIST k", "PEXPIRETIME k"]],
  ["EXPIRE 0 and PEXPIREAT 0 delete", ["SET k v", "EXPIRE k 0", "EXISTS k", "SET k v", "PEXPIREAT k 0", "EXISTS k"]],
  ["TTL family on missing and persistent keys", ["TTL k", "PTTL k", "EXPIRETIME k", "PEXPIRETIME k", "SET k v", "TTL k", "PTTL k", "EXPIRETIME k", "PEXPIRETIME k"]],
  ["RENAME errors and TTLs", ["RENAME a b", "RENAMENX a b", "SET a 1 EX 1000", "RPUSH b x", "RENAME a b", "TYPE b", "TTL b", "RENAMENX b b", "RENAME b b"]],
  ["DEL, EXISTS, UNLINK over types", ["SET a 1", "RPUSH b x", "SADD c x", "HSET d f v", "EXISTS a b c d e a", "DEL a b", "UNLINK c d e", "DBSIZE"]],
  ["TYPE and DBSIZE", ["SET a 1", "RPUSH b x", "TYPE a", "TYPE b", "DBSIZE", "FLUSHDB", "DBSIZE", "FLUSHALL SYNC", "FLUSHDB ASYNC", "FLUSHDB FOO"]],
  ["KEYS globs", ["MSET abc 1 a*c 2 a?c 3 a[c 4 'a\\c' 5 axyc 6", "KEYS a*", "KEYS a?c", "KEYS a\\*c", "KEYS a[*", "KEYS a[", "KEYS a[b-a]c", "KEYS a[^b]c", "KEYS a[!b]c", "KEYS *c", "KEYS a\\", "KEYS [", "KEYS a[\\]c", "KEYS ***c", "KEYS ?"]],
  ["KEYS over binary keys", ["SET \xff\x00 1", "SET é 2", "KEYS *", "KEYS \xff*", "KEYS ?", "KEYS ??", "KEYS [\xfe-\xff]*"]],
  ["SCAN errors", ["SCAN 0 COUNT -1", "SCAN 0 COUNT 9223372036854775808", "SCAN 0 TYPE", "SCAN 0 MATCH", "SCAN 18446744073709551616", "SCAN 1.5", "SCAN ' 1'"]],
  ["SCAN full pages", ["MSET a 1 b 2 c 3", "RPUSH l x", "SCAN 0 COUNT 1000", "SCAN 0 MATCH ? COUNT 100", "SCAN 0 TYPE list COUNT 100", "SCAN 0 TYPE string MATCH [ab] COUNT 100", "SCAN 0 type LIST", "SCAN 0 TYPE nosuchtype"]],
  ["LPUSH/RPUSH order and LPUSHX/RPUSHX", ["LPUSHX k a", "RPUSH k a b", "LPUSH k c d", "RPUSHX k e f", "LRANGE k 0 -1"]],
  ["LPOP/RPOP counts", ["RPUSH k a b c d", "LPOP k 0", "LPOP k 1", "RPOP k 2", "RPOP k 9223372036854775807", "EXISTS k", "RPOP k 1", "RPOP k", "LPOP k -0"]],
  ["LRANGE edges", ["RPUSH k a b c", "LRANGE k -100 -50", "LRANGE k 1 0", "LRANGE k 0 9223372036854775807", "LRANGE k -9223372036854775808 0", "LRANGE k 2 2", "LRANGE k 3 3", "LRANGE k -1 -1", "LRANGE k 9223372036854775808 0"]],
  ["LINDEX edges", ["RPUSH k a b c", "LINDEX k -3", "LINDEX k -4", "LINDEX k 2", "LINDEX k 3", "LINDEX k 9223372036854775807", "LINDEX k 1.0"]],
  ["LSET edges", ["RPUSH k a b", "LSET k -2 x", "LSET k -3 x", "LSET k 2 x", "LSET k 9223372036854775808 x", "LSET k 1 ''", "LRANGE k 0 -1"]],
  ["LTRIM edges", ["RPUSH k a b c d e", "LTRIM k -3 100", "LRANGE k 0 -1", "LTRIM k 1 0", "EXISTS k", "RPUSH k a b", "LTRIM k -100 -100", "EXISTS k", "RPUSH k a b", "LTRIM k 0 0", "LRANGE k 0 -1", "LTRIM k x 0"]],
  ["LREM edges", ["RPUSH k a b a b a", "LREM k -1 a", "LRANGE k 0 -1", "LREM k 1 b", "LREM k 9223372036854775807 a", "LRANGE k 0 -1", "LREM k -9223372036854775808 b", "EXISTS k", "LREM k 0 x"]],
  ["LINSERT edges", ["RPUSH k a b", "LINSERT k BEFORE a x", "LINSERT k after b y", "LINSERT k AFTER zz y", "LINSERT k before '' y", "LRANGE k 0 -1", "LINSERT nope AFTER a b", "LINSERT k MIDDLE a b"]],
  ["BLPOP/BRPOP forms", ["RPUSH b x y z", "BLPOP a b 0", "BRPOP a b 0.5", "BLPOP b 1e3", "BLPOP b 0x10", "BLPOP b inf", "BLPOP b 1e400", "BRPOP b -0.5", "BLPOP b ''", "BLPOP b -0.0009", "BLPOP b 9.2e15", "BLPOP b -inf", "LRANGE b 0 -1"]],
  ["set algebra", ["SADD a 1 2 3 x", "SADD b 3 x y", "SINTER a b", "SUNION a b", "SDIFF a b", "SDIFF b a", "SINTER a nope", "SUNION nope", "SDIFF nope a", "SINTERSTORE d a b", "SMEMBERS d", "SUNIONSTORE a a b", "SCARD a", "SDIFFSTORE a a", "EXISTS a", "SINTERSTORE d nope", "EXISTS d"]],
  ["set store over other types", ["SET s v", "SADD a 1", "SUNIONSTORE s a", "TYPE s", "SINTERSTORE a a s", "SDIFF a s", "SUNION s a"]],
  ["SADD/SREM/SISMEMBER on integer and text members", ["SADD k 3 1 2 1", "SMEMBERS k", "SADD k x", "SMEMBERS k", "SREM k 1 x nope", "SMISMEMBER k 2 3 9", "SISMEMBER k 2", "SCARD k"]],
  ["hash order and edits", ["HSET h b 1 a 2 c 3", "HGETALL h", "HKEYS h", "HVALS h", "HSET h a 9", "HDEL h b", "HGETALL h", "HSETNX h c 5", "HSETNX h d 5", "HMGET h a b c d", "HSTRLEN h a", "HSTRLEN h nope", "HEXISTS h nope", "HLEN h"]],
  ["hash empties", ["HSET h f v", "HDEL h f f", "EXISTS h", "HGETALL h", "HKEYS h", "HVALS h", "HLEN h", "HMGET h a"]],
  ["HSET/HMSET arity", ["HSET h f", "HMSET h f v g", "HSET h f v g w", "HMSET h a 1"]],
  ["unknown commands quote their arguments", ["FOO 'a b' it's ''", "FOO \"x\" 'y'"]],
  ["unknown command with CR LF in an argument", ["FOO a\r\nb"]],
  ["unknown command with a long name", [`${"N".repeat(200)} a`]],
  ["unknown command with UTF-8 arguments", ["FOO \xc3\xa9 \xe2\x82\xac"]],
  ["unknown command with a NUL in an argument", ["FOO a\x00b c"]],
  ["unknown command with a NUL in its name", ["F\x00OO a"]],
  ["known command, mixed case, wrong arity", ["gEt", "SeT k", "HsEt h f"]],
];

/** EXTRA's lines: words split on spaces; '…' quotes a word with spaces in it (or is empty: ''). */
function extraArgs(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < line.length) {
    if (line[i] === " ") {
      i++;
    } else if (line[i] === "'") {
      const end = line.indexOf("'", i + 1);
      out.push(line.slice(i + 1, end));
      i = end + 1;
    } else {
      const end = line.indexOf(" ", i);
      out.push(line.slice(i, end < 0 ? line.length : end));
      i = end < 0 ? line.length : end;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Random command sequences
// ---------------------------------------------------------------------------------------------

/** Keys and values: a tiny alphabet with binary bytes and UTF-8 (é as its two bytes). */
const KEYS = ["a", "b", "\xff", "\xc3\xa9"];
const VALUES = ["1", "-2", "x", "", "\x00\xff", "\xc3\xa9", "3.5", "10", "1e2", "a"];
/** Absolute expiry times far from now + any relative TTL used, so GT/LT never race the clock. */
const AT_S = ["4102444800", "4102444900"];

interface Pick {
  readonly op: number;
  readonly k: string;
  readonly k2: string;
  readonly v: string;
  readonly v2: string;
  readonly n: number;
  readonly m: number;
  readonly opt: number;
}

/**
 * Command templates. Relative TTLs are large and never meet GT/LT (two relative expiries of the
 * same length would compare equal on one side and not on the other, a clock race, not a
 * difference); TTL-reading commands are compared within a second.
 */
const TEMPLATES: readonly ((p: Pick) => string[])[] = [
  ({ k }) => ["GET", k],
  ({ k, v }) => ["SET", k, v],
  ({ k, v, opt }) => ["SET", k, v, ["NX", "XX", "GET", "KEEPTTL"][opt % 4] as string],
  ({ k, v, opt }) => ["SET", k, v, ...(opt % 2 === 0 ? ["EX", "1000"] : ["PXAT", `${AT_S[opt % 2]}000`])],
  ({ k, v }) => ["SETNX", k, v],
  ({ k }) => ["GETDEL", k],
  ({ k, opt }) => ["GETEX", k, ...[["PERSIST"], ["EX", "100000"], [], ["EXAT", "1"]][opt % 4] as string[]],
  ({ k, k2 }) => ["MGET", k, k2, "nope"],
  ({ k, k2, v, v2 }) => ["MSET", k, v, k2, v2],
  ({ k, k2, v, v2 }) => ["MSETNX", k, v, k2, v2],
  ({ k }) => ["INCR", k],
  ({ k }) => ["DECR", k],
  ({ k, n }) => ["INCRBY", k, String(n)],
  ({ k, v }) => ["INCRBYFLOAT", k, v],
  ({ k, v }) => ["APPEND", k, v],
  ({ k }) => ["STRLEN", k],
  ({ k, n, m }) => ["GETRANGE", k, String(n), String(m)],
  ({ k, n, v }) => ["SETRANGE", k, String(Math.abs(n)), v],
  ({ k, k2 }) => ["DEL", k, k2],
  ({ k, k2 }) => ["EXISTS", k, k2, k],
  ({ k, opt }) => ["EXPIRE", k, "1000", ...[["NX"], ["XX"], []][opt % 3] as string[]],
  ({ k, opt }) => ["EXPIREAT", k, AT_S[opt % 2] as string, ...[["GT"], ["LT"], ["NX"], ["XX"], []][opt % 5] as string[]],
  ({ k, n }) => ["PEXPIRE", k, String(n < 0 ? n : 1_000_000)],
  ({ k }) => ["PERSIST", k],
  ({ k }) => ["TTL", k],
  ({ k }) => ["PTTL", k],
  ({ k }) => ["EXPIRETIME", k],
  ({ k }) => ["TYPE", k],
  ({ k, k2 }) => ["RENAME", k, k2],
  ({ k, k2 }) => ["RENAMENX", k, k2],
  () => ["DBSIZE"],
  ({ opt }) => ["KEYS", ["*", "?", "[ab]*", "\xff*", "*\xa9"][opt % 5] as string],
  ({ opt }) => ["SCAN", "0", "COUNT", "1000", ...[[], ["MATCH", "[a\xff]"], ["TYPE", "list"], ["TYPE", "hash"]][opt % 4] as string[]],
  ({ k, v, v2 }) => ["LPUSH", k, v, v2],
  ({ k, v }) => ["RPUSH", k, v],
  ({ k, v }) => ["LPUSHX", k, v],
  ({ k, v }) => ["RPUSHX", k, v],
  ({ k }) => ["LPOP", k],
  ({ k, n }) => ["RPOP", k, String(n)],
  ({ k, k2 }) => ["BLPOP", k, k2, "0.01"],
  ({ k }) => ["BRPOP", k, "0.01"],
  ({ k, n, m }) => ["LRANGE", k, String(n), String(m)],
  ({ k }) => ["LLEN", k],
  ({ k, n }) => ["LINDEX", k, String(n)],
  ({ k, n, v }) => ["LSET", k, String(n), v],
  ({ k, n, v }) => ["LREM", k, String(n), v],
  ({ k, n, m }) => ["LTRIM", k, String(n), String(m)],
  ({ k, v, v2, opt }) => ["LINSERT", k, opt % 2 === 0 ? "BEFORE" : "AFTER", v, v2],
  ({ k, v, v2 }) => ["SADD", k, v, v2],
  ({ k, v }) => ["SREM", k, v],
  ({ k }) => ["SMEMBERS", k],
  ({ k, v }) => ["SISMEMBER", k, v],
  ({ k, v, v2 }) => ["SMISMEMBER", k, v, v2],
  ({ k }) => ["SCARD", k],
  ({ k, k2, opt }) => [["SINTER", "SUNION", "SDIFF"][opt % 3] as string, k, k2],
  ({ k, k2, opt }) => [["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"][opt % 3] as string, k, k2, k],
  ({ k, v, v2 }) => ["HSET", k, v, v2],
  ({ k, v, v2 }) => ["HSETNX", k, v, v2],
  ({ k, v }) => ["HGET", k, v],
  ({ k, v, v2 }) => ["HMGET", k, v, v2],
  ({ k, v }) => ["HDEL", k, v],
  ({ k }) => ["HGETALL", k],
  ({ k }) => ["HLEN", k],
  ({ k, v }) => ["HEXISTS", k, v],
  ({ k, v }) => ["HSTRLEN", k, v],
  ({ k, v, n }) => ["HINCRBY", k, v, String(n)],
  ({ k, v, v2 }) => ["HINCRBYFLOAT", k, v, v2],
  ({ k }) => ["HKEYS", k],
  ({ k }) => ["HVALS", k],
];

const pickArb: fc.Arbitrary<Pick> = fc.record({
  op: fc.nat({ max: TEMPLATES.length - 1 }),
  k: fc.constantFrom(...KEYS),
  k2: fc.constantFrom(...KEYS),
  v: fc.constantFrom(...VALUES),
  v2: fc.constantFrom(...VALUES),
  n: fc.integer({ min: -3, max: 3 }),
  m: fc.integer({ min: -3, max: 3 }),
  opt: fc.nat({ max: 59 }),
});

const commandArb = pickArb.map((p) => (TEMPLATES[p.op] as (p: Pick) => string[])(p));

/** A reply's text: bulk and verbatim strings as their bytes (latin1), simple strings and errors as is. */
function text(v: RespValue): string {
  if (v.type === "bulk" || v.type === "verbatim") return Buffer.from(v.value).toString("latin1");
  if (v.type === "simple" || v.type === "error") return v.value;
  return JSON.stringify(v);
}

/** The elements of an array or set reply. */
function items(v: RespValue | undefined): readonly RespValue[] {
  if (v?.type === "array" || v?.type === "set") return v.value;
  throw new Error(`expected an array, got ${JSON.stringify(v)}`);
}

// ---------------------------------------------------------------------------------------------
// Cluster formats: views built from what Redis reports, printed by our formatters
// ---------------------------------------------------------------------------------------------

const CLUSTER_ARGS = ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "1000", "--repl-diskless-sync-delay", "0"];
const WAIT_MS = 20_000;

/** Polls `check` every 100 ms until it returns true, for at most WAIT_MS; else fails with its last answer. */
async function until(what: string, check: () => Promise<true | string>): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    const answer = await check();
    if (answer === true) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${answer}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** "field:value" lines of INFO or CLUSTER INFO text, in order (section headers and blanks left out). */
function fields(infoText: string): [string, string][] {
  const out: [string, string][] = [];
  for (const line of infoText.split("\r\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const colon = line.indexOf(":");
    out.push([line.slice(0, colon), line.slice(colon + 1)]);
  }
  return out;
}

/** Section headers, each with its field names in order. */
function shape(infoText: string): [string, string[]][] {
  const out: [string, string[]][] = [];
  for (const line of infoText.split("\r\n")) {
    if (line.startsWith("# ")) out.push([line.slice(2), []]);
    else if (line !== "") out[out.length - 1]?.[1].push(line.slice(0, line.indexOf(":")));
  }
  return out;
}

const FLAG_WORDS: Readonly<Record<string, number>> = {
  myself: FLAG.myself, master: FLAG.master, slave: FLAG.replica, "fail?": FLAG.pfail, fail: FLAG.fail, handshake: FLAG.handshake, noaddr: FLAG.noaddr, nofailover: FLAG.nofailover, noflags: 0,
};

/**
 * The NodeViews of a CLUSTER NODES text, in its order, with replication offsets from CLUSTER
 * SHARDS. A replica's own configEpoch is set to an impossible 999: Redis 7.0 prints its master's,
 * and so must we.
 */
function nodesView(nodesText: string, offsets: ReadonlyMap<string, number>): NodeView[] {
  return nodesText.trimEnd().split("\n").map((line) => {
    const [name = "", address = "", flagText = "", master = "", ping = "", pong = "", epoch = "", link = "", ...slots] = line.split(" ");
    const m = /^(.*):(\d+)@(\d+)$/.exec(address);
    if (m === null) throw new Error(`CLUSTER NODES address ${address}`);
    const flags = flagText.split(",").reduce((f, w) => f | (FLAG_WORDS[w] ?? NaN), 0);
    return {
      name,
      endpoint: { ip: m[1] as string, port: Number(m[2]), cport: Number(m[3]) },
      flags,
      masterName: master === "-" ? null : master,
      pingSentMs: Number(ping),
      pongReceivedMs: Number(pong),
      configEpoch: master === "-" ? Number(epoch) : 999,
      linkConnected: link === "connected",
      slots: SlotSet.fromRanges(slots.map((r) => r.split("-").map(Number) as [number, number]).map(([lo, hi]) => [lo, hi ?? lo] as const)),
      replOffset: offsets.get(name) ?? 0,
      health: "online",
    };
  });
}

/** The ClusterView of one node, from its CLUSTER NODES, CLUSTER INFO and SHARDS. */
function clusterView(nodesText: string, infoText: string, offsets: ReadonlyMap<string, number>): ClusterView {
  const nodes = nodesView(nodesText, offsets);
  const info = new Map(fields(infoText));
  const stats = (dir: string): Map<string, number> => {
    const m = new Map<string, number>();
    for (const [k, v] of info) {
      const type = new RegExp(`^cluster_stats_messages_(.+)_${dir}$`).exec(k)?.[1];
      if (type !== undefined) m.set(type, Number(v));
    }
    return m;
  };
  return {
    nodes,
    myself: nodes.find((n) => (n.flags & FLAG.myself) !== 0) as NodeView,
    migrating: new Map(),
    importing: new Map(),
    state: info.get("cluster_state") === "ok" ? "ok" : "fail",
    currentEpoch: Number(info.get("cluster_current_epoch")),
    sent: stats("sent"),
    received: stats("received"),
    slotsPfail: Number(info.get("cluster_slots_pfail")),
    slotsFail: Number(info.get("cluster_slots_fail")),
  };
}

/** id → replication-offset, from a CLUSTER SHARDS reply. */
function shardOffsets(shards: RespValue): Map<string, number> {
  const out = new Map<string, number>();
  // A map, or in RESP2 a flat array of keys and values.
  const get = (m: RespValue, key: string): RespValue | undefined => {
    if (m.type === "map") return m.value.find(([k]) => text(k) === key)?.[1];
    const flat = items(m);
    for (let i = 0; i + 1 < flat.length; i += 2) if (text(flat[i] as RespValue) === key) return flat[i + 1];
    return undefined;
  };
  for (const shard of shards.type === "array" ? shards.value : []) {
    const nodes = get(shard, "nodes");
    for (const n of nodes?.type === "array" ? nodes.value : []) {
      const offset = get(n, "replication-offset");
      out.set(text(get(n, "id") as RespValue), Number(offset?.type === "integer" ? offset.value : NaN));
    }
  }
  return out;
}

/** An InfoView holding the values a Redis INFO text reports, where our view has a place for them. */
function infoView(infoText: string): InfoView {
  const f = new Map(fields(infoText));
  const str = (k: string): string => {
    const v = f.get(k);
    if (v === undefined) throw new Error(`INFO has no ${k}`);
    return v;
  };
  const num = (k: string): number => Number(str(k));
  const us = (k: string): number => Math.round(num(k) * 1_000_000);
  const replicas = [...f].filter(([k]) => /^slave\d+$/.test(k)).map(([, v]) => {
    const kv = new Map(v.split(",").map((p) => p.split("=") as [string, string]));
    return { ip: kv.get("ip") as string, port: Number(kv.get("port")), state: kv.get("state") as "online", offset: Number(kv.get("offset")), lagS: Number(kv.get("lag")) };
  });
  const common = {
    replicas,
    replid: str("master_replid"),
    replid2: str("master_replid2"),
    masterReplOffset: num("master_repl_offset"),
    secondReplOffset: num("second_repl_offset"),
    backlog: { active: num("repl_backlog_active") === 1, sizeBytes: num("repl_backlog_size"), firstByteOffset: num("repl_backlog_first_byte_offset"), histlen: num("repl_backlog_histlen") },
  };
  const replication: InfoView["replication"] =
    str("role") === "master"
      ? { role: "master", ...common }
      : {
          role: "replica",
          ...common,
          masterHost: str("master_host"),
          masterPort: num("master_port"),
          linkUp: str("master_link_status") === "up",
          lastIoSecondsAgo: num("master_last_io_seconds_ago"),
          transfer: null,
          readReplOffset: num("slave_read_repl_offset"),
          replOffset: num("slave_repl_offset"),
          linkDownSeconds: -1,
          priority: num("slave_priority"),
          readOnly: num("slave_read_only") === 1,
          announced: num("replica_announced") === 1,
        };
  const db0 = new Map((f.get("db0") ?? "keys=0,expires=0,avg_ttl=0").split(",").map((p) => p.split("=") as [string, string]));
  return {
    server: {
      faultlineVersion: "test", runId: str("run_id"), tcpPort: num("tcp_port"), processId: num("process_id"), os: str("os"), archBits: num("arch_bits"),
      multiplexingApi: str("multiplexing_api"), executable: str("executable"), configFile: str("config_file"), hz: num("hz"), nowUs: num("server_time_usec"), uptimeS: num("uptime_in_seconds"),
    },
    clients: { connected: num("connected_clients"), clusterConnections: num("cluster_connections"), max: num("maxclients"), blocked: num("blocked_clients"), inTimeoutTable: num("clients_in_timeout_table") },
    memory: {
      usedBytes: num("used_memory"), rssBytes: num("used_memory_rss"), peakBytes: num("used_memory_peak"), startupBytes: num("used_memory_startup"), totalSystemBytes: num("total_system_memory"),
      maxmemoryBytes: num("maxmemory"), maxmemoryPolicy: str("maxmemory_policy"), replicationBacklogBytes: num("mem_replication_backlog"), clientsNormalBytes: num("mem_clients_normal"), clientsReplicasBytes: num("mem_clients_slaves"),
    },
    persistence: { loading: null, changesSinceLastSave: num("rdb_changes_since_last_save"), lastSaveTimeS: num("rdb_last_save_time"), aof: null },
    stats: {
      connectionsReceived: num("total_connections_received"), commandsProcessed: num("total_commands_processed"), opsPerSec: num("instantaneous_ops_per_sec"),
      netInputBytes: num("total_net_input_bytes"), netOutputBytes: num("total_net_output_bytes"), netReplInputBytes: num("total_net_repl_input_bytes"), netReplOutputBytes: num("total_net_repl_output_bytes"),
      inputKbps: num("instantaneous_input_kbps"), outputKbps: num("instantaneous_output_kbps"), inputReplKbps: num("instantaneous_input_repl_kbps"), outputReplKbps: num("instantaneous_output_repl_kbps"),
      rejectedConnections: num("rejected_connections"), syncFull: num("sync_full"), syncPartialOk: num("sync_partial_ok"), syncPartialErr: num("sync_partial_err"), expiredKeys: num("expired_keys"),
      evictedKeys: num("evicted_keys"), keyspaceHits: num("keyspace_hits"), keyspaceMisses: num("keyspace_misses"), pubsubChannels: num("pubsub_channels"), pubsubPatterns: num("pubsub_patterns"),
      pubsubShardChannels: num("pubsubshard_channels"), readsProcessed: num("total_reads_processed"), writesProcessed: num("total_writes_processed"),
    },
    replication,
    cpu: { sysUs: us("used_cpu_sys"), userUs: us("used_cpu_user") },
    errors: new Map([...f].filter(([k]) => k.startsWith("errorstat_")).map(([k, v]) => [k.slice("errorstat_".length), Number(v.slice("count=".length))])),
    keyspace: { keys: Number(db0.get("keys")), expires: Number(db0.get("expires")), avgTtlMs: Number(db0.get("avg_ttl")) },
  };
}

/** INFO field names Redis prints and we never do (see core/cluster/README.md, "Formats"). */
const REDIS_ONLY_FIELD = /^(used_cpu_sys_main_thread|used_cpu_user_main_thread|cmdstat_.*|latency_percentiles_usec_.*)$/;
/** INFO field names only we print. */
const OURS_ONLY_FIELDS = ["faultline_version"];
/**
 * INFO fields whose values we cannot know and print as constants or from a coarser model
 * (core/cluster/README.md, "Formats" 3). Each group, and why:
 */
const VALUES_OURS_BY_DESIGN = new Set([
  // the build: no git state, build id, compiler or clock/atomics implementation of Redis's
  "redis_build_id", "monotonic_clock", "atomicvar_api", "gcc_version",
  // memory Redis accounts itself (dict and client overheads, jemalloc, Lua and functions) or
  // samples at cron time (fragmentation is its last cron's RSS over its last cron's used memory)
  "used_memory_overhead", "used_memory_dataset", "used_memory_dataset_perc", "allocator_allocated", "allocator_active", "allocator_resident",
  "used_memory_lua", "used_memory_vm_eval", "used_memory_lua_human", "used_memory_vm_functions", "used_memory_vm_total", "used_memory_vm_total_human",
  "used_memory_functions", "used_memory_scripts", "used_memory_scripts_human", "allocator_frag_ratio", "allocator_frag_bytes", "allocator_rss_ratio",
  "allocator_rss_bytes", "rss_overhead_ratio", "rss_overhead_bytes", "mem_fragmentation_ratio", "mem_fragmentation_bytes", "mem_total_replication_buffers",
  "mem_allocator", "mem_cluster_links",
  // client query/reply buffer statistics (the host's buffers, not modelled)
  "client_recent_max_input_buffer", "client_recent_max_output_buffer", "reply_buffer_shrinks", "reply_buffer_expands",
  // forks: Faultline never forks (a Redis master forks for a full sync) and has no expire-cycle timer
  "rdb_last_bgsave_time_sec", "rdb_last_cow_size", "latest_fork_usec", "total_forks", "used_cpu_sys_children", "used_cpu_user_children",
  "expire_cycle_cpu_milliseconds",
]);

/** A fake ServerHost for HELLO alone: anything else it is asked is a test bug. */
function helloServer(): { server: Server; replies: RespValue[] } {
  const replies: RespValue[] = [];
  const host = {
    settings: { names: () => [], get: () => undefined, set: () => "not here" },
    requirepass: "",
    isReplica: () => false,
    emit: (e: { kind: string; value?: RespValue }) => {
      if (e.kind === "reply" && e.value !== undefined) replies.push(e.value);
    },
  };
  const strict = new Proxy(host, {
    get(target, key) {
      if (key in target) return target[key as keyof typeof target];
      throw new Error(`HELLO asked the host for ${String(key)}`);
    },
  });
  return { server: new Server(strict as unknown as ServerHost, {} as Replication), replies };
}

// ---------------------------------------------------------------------------------------------
// Protocol errors: core/resp's RequestParser against Redis's networking.c
// ---------------------------------------------------------------------------------------------

/**
 * Bytes a client sends (latin1). Every case either breaks the protocol — Redis answers what came
 * before, then the error, and closes — or ends with QUIT, which Redis answers and closes on.
 */
const PROTOCOL_CASES: readonly (readonly [name: string, input: string])[] = [
  ["a negative bulk length", "*1\r\n$-5\r\n"],
  ["a bulk length that is not a number", "*1\r\n$abc\r\n"],
  ["a bulk length over proto-max-bulk-len", "*1\r\n$536870913\r\n"],
  ["a multibulk count that is not a number", "*abc\r\n"],
  ["a multibulk count over INT_MAX", "*2147483648\r\n"],
  ["a multibulk count with a plus sign", "*+1\r\n"],
  ["no $ before an argument", "*1\r\nfoo\r\n"],
  ["CR where a $ should be (blanked in the error)", "*2\r\n$4\r\nPING\r\n\r\n"],
  ["an unbalanced double quote inline", 'SET "a\r\n'],
  ["an unbalanced single quote inline", "SET 'a\r\n"],
  ["a closing quote not followed by a space", 'SET "a"b c\r\n'],
  ["an inline line longer than 64 KB", "a".repeat(70_000)],
  ["a multibulk count line longer than 64 KB", `*${"1".repeat(70_000)}`],
  ["a bulk length line longer than 64 KB", `*1\r\n$${"1".repeat(70_000)}`],
  ["commands before the error are answered first", "PING\r\n*1\r\n$4\r\nPING\r\n*abc\r\n"],
  ["an inline request starting with $ is a command named $5", "$5\r\nworld\r\nQUIT\r\n"],
  ["inline quoting: escapes, single quotes, quotes inside a token", `SET "k\\x41\\n" 'v\\'1'\r\nGET "kA\\n"\r\nSET a"b c"d x\r\nGET "a\\"b"\r\nSET "\\x4" '\\x'\r\nQUIT\r\n`],
  ["empty inline lines, *0 and *-1 are skipped", "\r\n\n  \t\r\n*0\r\n*-1\r\nPING\r\nQUIT\r\n"],
  ["the bytes after a bulk argument are skipped unchecked", "*1\r\n$4\r\nPINGxxQUIT\r\n"],
  ["a $ line ends at its first CR", "*1\r\n$4\rXPING\r\nQUIT\r\n"],
  ["binary arguments", "*3\r\n$3\r\nSET\r\n$3\r\n\x00\r\n\r\n$2\r\n\xff\n\r\n*2\r\n$3\r\nGET\r\n$3\r\n\x00\r\n\r\nQUIT\r\n"],
];

/**
 * What we answer to `input` on a fresh connection: each command the parser returns runs on a
 * fresh keyspace (PING and QUIT answered here), then the parser's error if it broke.
 */
function ourResponse(input: Uint8Array, limits: Partial<RequestLimits> = {}, authRequired = false): Uint8Array {
  const parser = new RequestParser(limits);
  parser.authRequired = authRequired;
  parser.feed(input);
  const ks = new Keyspace();
  const out: Uint8Array[] = [];
  for (let args = parser.next(); args !== null; args = parser.next()) {
    const words = args.map(bytesToByteString);
    const name = (words[0] as string).toLowerCase();
    if (name === "quit") return concatBytes([...out, asBytes("+OK\r\n")]);
    out.push(name === "ping" ? asBytes("+PONG\r\n") : encodeReply(ks.exec(words, Date.now()).reply, 2));
  }
  if (parser.error !== null) out.push(encodeReply(Resp.error(parser.error), 2));
  return concatBytes(out);
}

function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(chunks));
}

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

/** Cases of the keyspace's tables that differ from Redis on purpose; each is asserted below. */
const DELIBERATE = new Set(["SETRANGE beyond a JS string"]);

const TABLES: readonly (readonly [string, readonly Case[]])[] = [
  ["strings", STRINGS],
  ["generic", GENERIC],
  ["lists", LISTS],
  ["sets", SETS],
  ["hashes", HASHES],
  ["dispatch", DISPATCH],
  ["state after commands", STATE],
];

describe.skipIf(REDIS_SERVER === null)("against redis-server 7.0.15", () => {
  const servers: RedisServer[] = [];
  const connections: RedisClient[] = [];
  /** The standalone server's connections, one per protocol. */
  const clients = {} as Record<Protocol, RedisClient>;
  /** A master owning every slot and its replica, cluster mode. */
  let master: RedisServer;
  let replica: RedisServer;

  async function connect(s: RedisServer): Promise<RedisClient> {
    const c = await s.connect();
    connections.push(c);
    return c;
  }

  beforeAll(async () => {
    const started = await Promise.allSettled([
      RedisServer.start({ args: ["--enable-debug-command", "yes"] }),
      RedisServer.start({ cluster: true, args: CLUSTER_ARGS }),
      RedisServer.start({ cluster: true, args: CLUSTER_ARGS }),
    ]);
    for (const r of started) if (r.status === "fulfilled") servers.push(r.value);
    for (const r of started) if (r.status === "rejected") throw r.reason;
    const [standalone] = servers as [RedisServer];
    [, master, replica] = servers as [RedisServer, RedisServer, RedisServer];
    clients[2] = await connect(standalone);
    clients[3] = await connect(standalone);
    expect((await clients[3].call(["HELLO", "3"])).type).toBe("map");
    const version = /redis_version:([0-9.]+)/.exec(text(await clients[2].call(["INFO", "server"])))?.[1];
    expect(version, "these tests pin redis-server 7.0.x (Debian 12's 7.0.15)").toMatch(/^7\.0\./);
    // The cluster forms (each wait bounded) while the keyspace tests run.
    clusterFormed = formCluster();
    clusterFormed.catch(() => {}); // awaited, and reported, by the cluster tests
  });

  /** Connections to the cluster's nodes, one per protocol, and the master's id. */
  let onMaster: Record<Protocol, RedisClient>;
  let onReplica: Record<Protocol, RedisClient>;
  let masterId = "";
  let clusterFormed: Promise<void>;

  /** Slots to the master, MEET, REPLICATE, then waits until both agree on a healthy cluster. */
  async function formCluster(): Promise<void> {
    onMaster = { 2: await connect(master), 3: await connect(master) };
    onReplica = { 2: await connect(replica), 3: await connect(replica) };
    await onMaster[3].call(["HELLO", "3"]);
    await onReplica[3].call(["HELLO", "3"]);
    masterId = text(await onMaster[2].call(["CLUSTER", "MYID"]));
    expect(text(await onMaster[2].call(["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]))).toBe("OK");
    expect(text(await onReplica[2].call(["CLUSTER", "MEET", "127.0.0.1", String(master.port)]))).toBe("OK");
    await until("the replica to have met the master", async () => {
      const nodes = text(await onReplica[2].call(["CLUSTER", "NODES"]));
      return nodes.split("\n").some((l) => l.startsWith(masterId) && l.includes(" master ") && l.endsWith("connected 0-16383")) || nodes;
    });
    expect(text(await onReplica[2].call(["CLUSTER", "REPLICATE", masterId]))).toBe("OK");
    // Keys for INFO keyspace, an error for INFO errorstats.
    await onMaster[2].pipeline([["SET", "{a}1", "v", "EX", "1000"], ["SET", "{a}2", "v"], ["NOSUCHCOMMAND"]]);
    await until("the replica to sync, both to see the cluster ok, and both to know both offsets", async () => {
      const [mInfo, mCluster, mShards] = (await onMaster[2].pipeline([["INFO", "replication"], ["CLUSTER", "INFO"], ["CLUSTER", "SHARDS"]])).map((r) => r.value);
      const [rInfo, rCluster, rShards] = (await onReplica[2].pipeline([["INFO", "replication"], ["CLUSTER", "INFO"], ["CLUSTER", "SHARDS"]])).map((r) => r.value);
      const state = {
        masterSeesReplicaOnline: text(mInfo as RespValue).includes("state=online"),
        replicaLinkUp: text(rInfo as RespValue).includes("master_link_status:up"),
        masterClusterOk: text(mCluster as RespValue).includes("cluster_state:ok"),
        replicaClusterOk: text(rCluster as RespValue).includes("cluster_state:ok"),
        offsets: [...shardOffsets(mShards as RespValue).values(), ...shardOffsets(rShards as RespValue).values()],
      };
      const ok = Object.values(state).every((v) => v !== false) && state.offsets.length === 4 && state.offsets.every((o) => o > 0);
      return ok || JSON.stringify(state);
    });
  }

  afterAll(async () => {
    for (const c of connections) c.close();
    await Promise.all(servers.map((s) => s.stop()));
  });

  describe.each([2, 3] as const)("keyspace, RESP%i", (protocol) => {
    describe.each(TABLES)("command-cases.ts %s", (_group, cases) => {
      it.each(cases.filter(([name]) => !DELIBERATE.has(name)))("%s", async (_name, setup, cmd) => {
        await expectSame(clients[protocol], [[...setup, cmd].map(words)], protocol);
      });
    });

    it.each(EXTRA)("%s", async (_name, lines) => {
      await expectSame(clients[protocol], [lines.map(extraArgs)], protocol);
    });

    it.each([...SAMPLES])("%s on every type, then the state it left", async (name, sample) => {
      const probes = [["TYPE", "k"], ["TYPE", "k2"], ["DBSIZE"], ["GET", "k"], ["LRANGE", "k", "0", "-1"], ["SMEMBERS", "k"], ["HGETALL", "k"], ["GET", "k2"], ["SMEMBERS", "k2"]];
      await expectSame(clients[protocol], SETUPS.map((setup) => [...setup, [name.toUpperCase(), ...sample], ...probes]), protocol);
    });

    it("wrong arities of every keyspace command", async () => {
      const sequences: string[][][] = [];
      for (const [name, spec] of COMMANDS) {
        const need = Math.abs(spec.arity);
        if (need > 1) sequences.push([[name.toUpperCase(), ...Array<string>(need - 2).fill("k")]]);
        if (spec.arity > 0) sequences.push([[name, ...Array<string>(need).fill("k")]]);
      }
      await expectSame(clients[protocol], sequences, protocol);
    });
  });

  it("the samples cover every keyspace command", () => {
    expect([...SAMPLES.keys()].sort()).toEqual([...COMMANDS.keys()].sort());
  });

  describe("DUMP and RESTORE", () => {
    let ourPayload = "";
    let theirPayload = "";

    beforeAll(async () => {
      const ks = new Keyspace();
      ks.exec(["SET", "k", "ab"], Date.now());
      ourPayload = text(ks.exec(["DUMP", "k"], Date.now()).reply);
      await clients[2].pipeline([["FLUSHALL"], ["SET", "k", "ab"]]);
      theirPayload = text(await clients[2].call(["DUMP", "k"]));
    });

    // "P" stands for each side's own payload of the string "ab"; every error and its order must agree.
    it.each(RESTORE_ERRORS)("%s", async (_name, setup, cmd) => {
      const [steps] = await runSequences(clients[2], [[...setup, cmd]], 2, {
        ours: (args) => args.map((a) => (a === "P" ? ourPayload : a)),
        theirs: (args) => args.map((a) => (a === "P" ? theirPayload : a)),
      });
      const [ours, theirs] = sides(steps as Step[], 2);
      expect(ours).toEqual(theirs);
    });

    it("each side restores its own payload, and refuses the other's with the same error (payloads differ on purpose)", async () => {
      expect(ourPayload).not.toBe(theirPayload);
      const ks = new Keyspace();
      const restore = (p: string): string[] => ["RESTORE", "k", "0", p, "REPLACE"];
      const ours = [restore(ourPayload), restore(theirPayload)].map((args) => show(encodeReply(ks.exec(args, Date.now()).reply, 2)));
      const theirs = (await clients[2].pipeline([restore(theirPayload), restore(ourPayload)].map(toWire))).map((r) => show(r.bytes));
      expect(ours).toEqual(["+OK\\r\\n", "-ERR DUMP payload version or checksum are wrong\\r\\n"]);
      expect(theirs).toEqual(ours);
    });
  });

  describe("SCAN", () => {
    /** Every key a full iteration returns, sorted, on one side. */
    async function scanAll(exec: (args: string[]) => Promise<RespValue>, options: readonly string[]): Promise<string[]> {
      const seen: string[] = [];
      let cursor = "0";
      for (let guard = 0; guard < 1000; guard++) {
        const page = await exec(["SCAN", cursor, ...options]);
        if (page.type !== "array") throw new Error(`SCAN: ${JSON.stringify(page)}`);
        const [c, keys] = page.value as [RespValue, RespValue];
        if (keys.type !== "array") throw new Error(`SCAN keys: ${JSON.stringify(keys)}`);
        cursor = text(c);
        for (const k of keys.value) seen.push(text(k));
        if (cursor === "0") return seen.sort();
      }
      throw new Error("SCAN did not finish");
    }

    it.each([[["COUNT", "1"]], [["COUNT", "3", "MATCH", "k1*"]], [["TYPE", "set", "COUNT", "2"]], [["MATCH", "*\xff*"]]])("full iterations with %j agree", async (options) => {
      const setup = [["MSET", ...Array.from({ length: 40 }, (_, i) => [`k${i}`, "v"]).flat()], ["SADD", "s1", "x"], ["SADD", "s2\xff", "y"], ["RPUSH", "l\xff", "z"]];
      const ks = new Keyspace();
      for (const args of setup) ks.exec(args, Date.now());
      await clients[2].pipeline([["FLUSHALL"], ...setup.map(toWire)]);
      const ours = await scanAll(async (args) => ks.exec(args, Date.now()).reply, options);
      const theirs = await scanAll((args) => clients[2].call(toWire(args)), options);
      expect(ours.length).toBeGreaterThan(0);
      expect(ours).toEqual(theirs);
    });
  });

  it("lazy expiry: an expired key is gone for reads and writes, still counted by DBSIZE until touched", async () => {
    // Redis's active expiry is off for this test, so only lookups expire keys — as on our side,
    // which has no cron here. Both sides wait past the TTLs between the two phases.
    const admin = clients[2];
    expect(text(await admin.call(["DEBUG", "SET-ACTIVE-EXPIRE", "0"]))).toBe("OK");
    try {
      const ks = new Keyspace();
      const phase = async (lines: readonly string[]): Promise<[string[], string[]]> => {
        const commands = lines.map(extraArgs);
        const ours = commands.map((args) => encodeReply(ks.exec(args, Date.now()).reply, 2));
        const theirs = (await admin.pipeline(commands.map(toWire))).map((r) => r.bytes);
        return sides(commands.map((args, i) => ({ args, ours: ours[i] as Uint8Array, theirs: theirs[i] as Uint8Array })), 2);
      };
      await admin.call(["FLUSHALL"]);
      const [ours1, theirs1] = await phase(["SET a 1 PX 50", "SET b 1", "RPUSH l x", "PEXPIRE l 50", "SET s v PX 50", "HSET h f v", "PEXPIRE h 50", "DBSIZE"]);
      expect(ours1).toEqual(theirs1);
      await new Promise((r) => setTimeout(r, 200));
      const [ours2, theirs2] = await phase(["DBSIZE", "KEYS *", "SCAN 0 COUNT 100", "DBSIZE", "EXISTS l", "GET a", "INCR s", "PTTL s", "HSET h g w", "HGETALL h", "TTL b", "DBSIZE"]);
      expect(ours2).toEqual(theirs2);
    } finally {
      await admin.call(["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    }
  });

  describe("where we differ on purpose", () => {
    /** Our reply and Redis's to the same sequence (after FLUSHALL), as text. */
    async function both(commands: readonly string[]): Promise<[string[], string[]]> {
      const [steps] = await runSequences(clients[2], [commands.map(extraArgs)], 2);
      return [(steps as Step[]).map((s) => show(s.ours)), (steps as Step[]).map((s) => show(s.theirs))];
    }

    it("a string past V8's longest (2^29 - 24 bytes): Redis builds it, we refuse it with proto-max-bulk-len's error", async () => {
      const [ours, theirs] = await both(["SETRANGE k 536870888 x"]);
      expect(ours).toEqual(["-ERR string exceeds maximum allowed size (proto-max-bulk-len)\\r\\n"]);
      expect(theirs).toEqual([":536870889\\r\\n"]);
      await clients[2].call(["FLUSHALL"]);
    });

    it("SCAN cursors that are not plain digits: Redis's strtoul takes them, we refuse them", async () => {
      const [ours, theirs] = await both(["SET a 1", "SCAN +0", "SCAN -1 COUNT 1000"]);
      expect(ours.slice(1)).toEqual(["-ERR invalid cursor\\r\\n", "-ERR invalid cursor\\r\\n"]);
      // +0 is cursor 0: the whole keyspace. -1 is ULONG_MAX, a position in Redis's hash table: a
      // page of whatever hashes there, then cursor 0.
      expect(theirs[1]).toBe("*2\\r\\n$1\\r\\n0\\r\\n*1\\r\\n$1\\r\\na\\r\\n");
      expect(theirs[2]).toMatch(/^\*2\\r\\n\$1\\r\\n0\\r\\n\*[01]\\r\\n/);
    });

    it("an empty SCAN cursor: Redis's strtoul reads it as 0, we refuse it like any cursor that is not plain digits", async () => {
      const [ours, theirs] = await both(["SCAN ''"]);
      expect(ours).toEqual(["-ERR invalid cursor\\r\\n"]);
      expect(theirs).toEqual(["*2\\r\\n$1\\r\\n0\\r\\n*0\\r\\n"]);
    });

    it("invalid UTF-8 quoted in an error: Redis sends the raw bytes, our error texts are text (U+FFFD)", async () => {
      const [ours, theirs] = await both(["FOO \xff"]);
      expect(ours).toEqual(["-ERR unknown command 'FOO', with args beginning with: '\\xef\\xbf\\xbd' \\r\\n"]);
      expect(theirs).toEqual(["-ERR unknown command 'FOO', with args beginning with: '\\xff' \\r\\n"]);
    });

    it("commands Redis has and the keyspace does not (sorted sets, streams, …) are unknown here", async () => {
      const [ours, theirs] = await both(["ZADD z 1 a", "LMOVE a b LEFT RIGHT"]);
      expect(ours).toEqual(["-ERR unknown command 'ZADD', with args beginning with: 'z' '1' 'a' \\r\\n", "-ERR unknown command 'LMOVE', with args beginning with: 'a' 'b' 'LEFT' 'RIGHT' \\r\\n"]);
      expect(theirs).toEqual([":1\\r\\n", "$-1\\r\\n"]);
    });

    it("set and key order: we list in insertion order, Redis in hash order (an intset sorted)", async () => {
      const [ours, theirs] = await both(["SADD s 3 1 2", "SMEMBERS s", "SINTER s s"]);
      expect(ours.slice(1)).toEqual(["*3\\r\\n$1\\r\\n3\\r\\n$1\\r\\n1\\r\\n$1\\r\\n2\\r\\n", "*3\\r\\n$1\\r\\n3\\r\\n$1\\r\\n1\\r\\n$1\\r\\n2\\r\\n"]);
      expect(theirs.slice(1)).toEqual(["*3\\r\\n$1\\r\\n1\\r\\n$1\\r\\n2\\r\\n$1\\r\\n3\\r\\n", "*3\\r\\n$1\\r\\n1\\r\\n$1\\r\\n2\\r\\n$1\\r\\n3\\r\\n"]);
    });
  });

  describe("cluster formats (a master owning every slot, and its replica)", () => {
    beforeAll(async () => {
      await clusterFormed;
    });

    it.each([
      ["master", 2],
      ["master", 3],
      ["replica", 2],
      ["replica", 3],
    ] as const)("CLUSTER NODES, INFO, SLOTS and SHARDS on the %s, RESP%i, are ours byte for byte, given what Redis reports", async (who, protocol) => {
      const c = (who === "master" ? onMaster : onReplica)[protocol];
      const [nodes, infoReply, shards, slots] = (await c.pipeline([["CLUSTER", "NODES"], ["CLUSTER", "INFO"], ["CLUSTER", "SHARDS"], ["CLUSTER", "SLOTS"]])) as [RawReply, RawReply, RawReply, RawReply];
      const view = clusterView(text(nodes.value), text(infoReply.value), shardOffsets(shards.value));
      // The shape the view was read from: two nodes, the master with every slot.
      expect(view.nodes.map((n) => [n.name === masterId, n.flags & ~FLAG.myself, n.linkConnected, n.slots.size])).toEqual(
        expect.arrayContaining([[true, FLAG.master, true, 16384], [false, FLAG.replica, true, 0]]),
      );
      expect(text(nodes.value)).toContain(who === "master" ? " myself,master - " : ` myself,slave ${masterId} `);
      expect(show(encodeReply(Resp.verbatim("txt", clusterNodes(view)), protocol))).toBe(show(nodes.bytes));
      expect(show(encodeReply(Resp.verbatim("txt", clusterInfo(view)), protocol))).toBe(show(infoReply.bytes));
      expect(show(encodeReply(clusterShards(view), protocol))).toBe(show(shards.bytes));
      expect(show(encodeReply(clusterSlots(view), protocol))).toBe(show(slots.bytes));
    });

    const SECTION_ARGS: readonly (readonly string[])[] = [[], ["default"], ["all"], ["everything"], ["server"], ["clients"], ["memory"], ["persistence"], ["stats"], ["replication"], ["cpu"], ["modules"], ["commandstats"], ["errorstats"], ["latencystats"], ["cluster"], ["keyspace"], ["CPU", "Keyspace", "server"], ["nosuchsection"]];

    it.each([
      ["master", SECTION_ARGS],
      ["replica", SECTION_ARGS],
    ] as const)("INFO on the %s: sections and field names in Redis's order, for every section argument", async (who, sectionArgs) => {
      const c = (who === "master" ? onMaster : onReplica)[2];
      const replies = await c.pipeline([["INFO", "everything"], ...sectionArgs.map((a) => ["INFO", ...a])]);
      const view = infoView(text((replies[0] as RawReply).value));
      sectionArgs.forEach((args, i) => {
        const theirs = shape(text((replies[i + 1] as RawReply).value));
        const ours = shape(info(args, view));
        const redisOnly = theirs.flatMap(([, names]) => names.filter((n) => REDIS_ONLY_FIELD.test(n)));
        const oursOnly = ours.flatMap(([, names]) => names.filter((n) => OURS_ONLY_FIELDS.includes(n)));
        const wantsServer = args.length === 0 || args.some((a) => ["default", "all", "everything", "server"].includes(a.toLowerCase()));
        const wantsCpu = args.length === 0 || args.some((a) => ["default", "all", "everything", "cpu"].includes(a.toLowerCase()));
        expect(oursOnly, `INFO ${args.join(" ")}`).toEqual(wantsServer ? ["faultline_version"] : []);
        expect(redisOnly.filter((n) => n.endsWith("_main_thread")), `INFO ${args.join(" ")}`).toEqual(wantsCpu ? ["used_cpu_sys_main_thread", "used_cpu_user_main_thread"] : []);
        const without = (s: [string, string[]][], drop: (n: string) => boolean): [string, string[]][] => s.map(([h, names]) => [h, names.filter((n) => !drop(n))]);
        expect(without(ours, (n) => OURS_ONLY_FIELDS.includes(n)), `INFO ${args.join(" ")}`).toEqual(without(theirs, (n) => REDIS_ONLY_FIELD.test(n)));
      });
    });

    it.each(["master", "replica"] as const)("INFO on the %s: every value we model is Redis's, given the figures Redis reports", async (who) => {
      const theirs = text(await (who === "master" ? onMaster : onReplica)[2].call(["INFO", "everything"]));
      const ours = new Map(fields(info(["everything"], infoView(theirs))));
      const differ: string[] = [];
      for (const [name, value] of fields(theirs)) {
        if (REDIS_ONLY_FIELD.test(name) || ours.get(name) === value) continue;
        // lru_clock is Redis's cached cron value; ours derives it from server_time_usec.
        if (name === "lru_clock" && Math.abs(Number(ours.get(name)) - Number(value)) <= 1) continue;
        differ.push(`${name}: ours ${ours.get(name)}, Redis ${value}`);
      }
      expect(differ.filter((d) => !VALUES_OURS_BY_DESIGN.has(d.slice(0, d.indexOf(":"))))).toEqual([]);
    });

    it("HELLO 3: the keys, their order and their values are Redis's (but the client id)", async () => {
      const { server, replies } = helloServer();
      server.request("c", 1, ["HELLO", "3"], 0);
      const tree = (v: RespValue): unknown => (v.type === "map" ? v.value.map(([k, x]) => [text(k), text(k) === "id" ? "(id)" : tree(x)]) : v.type === "array" ? v.value.map(tree) : [v.type, text(v)]);
      const theirs = await onMaster[3].call(["HELLO", "3"]);
      expect(replies).toHaveLength(1);
      expect(tree(replies[0] as RespValue)).toEqual(tree(theirs));
      expect(tree(theirs)).toEqual([["server", ["bulk", "redis"]], ["version", ["bulk", "7.0.15"]], ["proto", ["integer", "{\"type\":\"integer\",\"value\":3}"]], ["id", "(id)"], ["mode", ["bulk", "cluster"]], ["role", ["bulk", "master"]], ["modules", []]]);
    });

    describe("COMMAND", () => {
      /** A reply as an ordered tree; sets keep their order (Redis's flag order is fixed). */
      const tree = (v: RespValue): unknown => {
        switch (v.type) {
          case "map":
            return { map: v.value.map(([k, x]) => [tree(k), tree(x)]) };
          case "array":
          case "set":
            return { [v.type]: v.value.map(tree) };
          case "integer":
            return Number(v.value);
          default:
            return `${v.type}:${text(v)}`;
        }
      };

      it.each([2, 3] as const)("INFO of get, set, mset, blpop and the keyspace's commands is Redis's byte for byte, RESP%i", async (protocol) => {
        const names = ["get", "set", "mset", "blpop", ...COMMANDS.keys()];
        const theirs = await onMaster[protocol].pipeline(names.map((n) => ["COMMAND", "INFO", n]));
        expect(names.map((n) => `${n}: ${show(encodeReply(commandCommand(["INFO", n]), protocol))}`)).toEqual(names.map((n, i) => `${n}: ${show((theirs[i] as RawReply).bytes)}`));
      });

      /** Redis's subcommands the node does not serve (command-table.ts header); every other is compared. */
      const REDIS_ONLY_SUBCOMMANDS: Readonly<Record<string, readonly string[]>> = {
        client: ["caching", "getredir", "kill", "no-evict", "pause", "reply", "tracking", "trackinginfo", "unblock", "unpause"],
        cluster: ["bumpepoch", "flushslots", "saveconfig"],
        config: ["rewrite"],
      };

      /** A COMMAND INFO entry with Redis's extra subcommands dropped and the rest by name (Redis lists them in hash order). */
      const infoNormalized = (entry: RespValue, container: string): unknown => {
        if (entry.type !== "array") return tree(entry);
        const subs = entry.value[9];
        if (subs?.type !== "array") return tree(entry);
        const dropped = REDIS_ONLY_SUBCOMMANDS[container] ?? [];
        const kept = subs.value.filter((s) => s.type === "array" && !dropped.includes(text(s.value[0] as RespValue).split("|")[1] as string));
        kept.sort((a, b) => (text(items(a)[0] as RespValue) < text(items(b)[0] as RespValue) ? -1 : 1));
        return tree(Resp.array([...entry.value.slice(0, 9), Resp.array(kept)]));
      };

      it("INFO of every command we serve is Redis's, containers' subcommands compared by name", async () => {
        const names = [...COMMAND_TABLE.keys()];
        const theirs = await onMaster[3].pipeline(names.map((n) => ["COMMAND", "INFO", n]));
        const redisSubcommands = (i: number): string[] => {
          const e = (theirs[i] as RawReply).value;
          const entry = e.type === "array" ? e.value[0] : undefined;
          const subs = entry?.type === "array" ? entry.value[9] : undefined;
          return subs?.type === "array" ? subs.value.map((s) => (s.type === "array" ? text(s.value[0] as RespValue).split("|")[1] ?? "" : "")) : [];
        };
        const ours = names.map((n) => [n, infoNormalized(items(commandCommand(["INFO", n]))[0] as RespValue, n)]);
        const redis = names.map((n, i) => [n, infoNormalized(items((theirs[i] as RawReply).value)[0] as RespValue, n)]);
        expect(ours).toEqual(redis);
        for (const [container, missing] of Object.entries(REDIS_ONLY_SUBCOMMANDS)) {
          const i = names.indexOf(container);
          const served = [...(COMMAND_TABLE.get(container)?.subcommands?.values() ?? [])].map((e) => e.name.split("|")[1]);
          expect(redisSubcommands(i).filter((s) => !served.includes(s)).sort(), container).toEqual(missing);
        }
      });

      /** COMMAND DOCS without the per-argument since/summary we do not keep, containers as above. */
      const docsNormalized = (reply: RespValue, container: string): unknown => {
        const strip = (v: RespValue, inArguments: boolean): RespValue => {
          if (v.type === "array") return Resp.array(v.value.map((x) => strip(x, inArguments)));
          if (v.type !== "map") return v;
          const pairs = v.value.filter(([k]) => !(inArguments && ["since", "summary"].includes(text(k))));
          const dropped = REDIS_ONLY_SUBCOMMANDS[container] ?? [];
          return Resp.map(
            pairs
              .filter(([k]) => !dropped.includes(text(k).split("|")[1] ?? ""))
              .map(([k, x]) => [k, strip(x, text(k) === "arguments" ? true : inArguments)] as const)
              .sort((a, b) => (text(a[0]).includes("|") && text(b[0]).includes("|") ? (text(a[0]) < text(b[0]) ? -1 : 1) : 0)),
          );
        };
        return tree(strip(reply, false));
      };

      it("DOCS of every command we serve is Redis's but for the per-argument since and summary we do not keep", async () => {
        const names = [...COMMAND_TABLE.keys()];
        const theirs = await onMaster[3].pipeline(names.map((n) => ["COMMAND", "DOCS", n]));
        expect(names.map((n) => [n, docsNormalized(commandCommand(["DOCS", n]), n)])).toEqual(names.map((n, i) => [n, docsNormalized((theirs[i] as RawReply).value, n)]));
      });

      it("DOCS set: the same tree; Redis has per-argument since fields, we have none", async () => {
        const theirs = await onMaster[3].call(["COMMAND", "DOCS", "set"]);
        const ours = commandCommand(["DOCS", "set"]);
        expect(JSON.stringify(tree(theirs))).toContain('["bulk:since","bulk:2.6.12"]');
        expect(JSON.stringify(tree(ours))).not.toContain('["bulk:since","bulk:2.6.12"]');
        expect(docsNormalized(ours, "set")).toEqual(docsNormalized(theirs, "set"));
      });

      it("COUNT and LIST: every command and subcommand we serve is Redis's; Redis 7.0 has more", async () => {
        const [count, list] = (await onMaster[2].pipeline([["COMMAND", "COUNT"], ["COMMAND", "LIST"]])) as [RawReply, RawReply];
        const ourCount = commandCommand(["COUNT"]);
        expect(ourCount).toEqual(Resp.integer(COMMAND_TABLE.size));
        expect(count.value).toEqual(Resp.integer(240));
        expect(COMMAND_TABLE.size).toBeLessThan(240);
        const redisNames = new Set(items(list.value).map(text));
        const ourNames = items(commandCommand(["LIST"])).map(text);
        expect(ourNames.filter((n) => !redisNames.has(n))).toEqual([]);
      });
    });
  });

  describe("protocol errors (core/resp RequestParser)", () => {
    /** Redis's whole answer to `input` on a fresh connection, up to its closing it. */
    async function redisAnswer(input: Uint8Array): Promise<Uint8Array> {
      const c = await connect(servers[0] as RedisServer);
      c.writeRaw(input);
      return c.readUntilClosed();
    }

    it.each(PROTOCOL_CASES)("%s", async (_name, input) => {
      const bytes = asBytes(input);
      expect(show(ourResponse(bytes))).toBe(show(await redisAnswer(bytes)));
    });

    it("before AUTH: more than 10 arguments, or an argument over 16 KB, is refused; 10 and 16 KB are not", async () => {
      const admin = clients[2];
      expect(text(await admin.call(["CONFIG", "SET", "requirepass", "pw"]))).toBe("OK");
      try {
        for (const input of ["*11\r\n", "*1\r\n$16385\r\n"]) {
          const bytes = asBytes(input);
          expect(show(ourResponse(bytes, {}, true)), input).toBe(show(await redisAnswer(bytes)));
        }
        const allowed = asBytes("*10\r\n$16384\r\n");
        const c = await connect(servers[0] as RedisServer);
        c.writeRaw(allowed);
        expect(await c.receivedWithin(200)).toEqual({ bytes: new Uint8Array(0), closed: false });
        expect(show(ourResponse(allowed, {}, true))).toBe("");
      } finally {
        await admin.call(["CONFIG", "SET", "requirepass", ""]);
      }
    });

    it("on purpose: more than 1024*1024 arguments are refused by default; Redis 7 waits for up to INT_MAX (configurable here)", async () => {
      const input = asBytes("*1048577\r\n$4\r\nPING\r\n");
      const c = await connect(servers[0] as RedisServer);
      c.writeRaw(input);
      expect(await c.receivedWithin(300)).toEqual({ bytes: new Uint8Array(0), closed: false });
      expect(show(ourResponse(input))).toBe("-ERR Protocol error: invalid multibulk length\\r\\n");
      expect(show(ourResponse(input, { multibulkArgsMax: 2147483647 }))).toBe("");
    });

    it("on purpose: a byte over 0x7f where $ should be is quoted as UTF-8 in our error, raw in Redis's", async () => {
      const input = asBytes("*1\r\n\xff\r\n");
      expect(show(ourResponse(input))).toBe("-ERR Protocol error: expected '$', got '\\xc3\\xbf'\\r\\n");
      expect(show(await redisAnswer(input))).toBe("-ERR Protocol error: expected '$', got '\\xff'\\r\\n");
    });

    it("on purpose: NUL is data in an inline request; Redis's strchr stops there and the request never completes", async () => {
      const input = asBytes("SET a\x00b v\r\nGET a\x00b\r\nQUIT\r\n");
      const c = await connect(servers[0] as RedisServer);
      c.writeRaw(input);
      expect(await c.receivedWithin(300)).toEqual({ bytes: new Uint8Array(0), closed: false });
      expect(show(ourResponse(input))).toBe("+OK\\r\\n$1\\r\\nv\\r\\n+OK\\r\\n");
    });
  });

  describe.each([
    [2, 1000],
    [3, 300],
  ] as const)("random command sequences, RESP%i", (protocol, numRuns) => {
    it("give the same replies on both sides (sets, KEYS and SCAN as bags; TTLs within a second)", async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(commandArb, { minLength: 1, maxLength: 60 }), async (commands) => {
          const [steps] = await runSequences(clients[protocol], [commands], protocol);
          const [ours, theirs] = sides(steps as Step[], protocol);
          expect(ours).toEqual(theirs);
        }),
        { seed: 7015 + protocol, numRuns },
      );
    });
  });
});
