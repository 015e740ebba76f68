// Table-driven command tests: each case runs its setup commands on a fresh keyspace, then one
// command, and compares the exact reply (as plain data: see plain.ts).

import { describe, expect, it } from "vitest";
import { COMMANDS, commandKeys } from "./commands.js";
import { Keyspace } from "./keyspace.js";
import { type Plain, plain } from "./plain.js";

const NOW = 1_000_000;
const OK: Plain = { simple: "OK" };
const err = (text: string): Plain => ({ err: text });
const set = (...members: string[]): Plain => ({ set: [...members].sort() });
const NIL_ARRAY: Plain = { nullArray: true };
const WRONGTYPE = err("WRONGTYPE Operation against a key holding the wrong kind of value");
const NOT_INT = err("ERR value is not an integer or out of range");
const NOT_FLOAT = err("ERR value is not a valid float");
const SYNTAX = err("ERR syntax error");

type Case = readonly [name: string, setup: readonly string[], cmd: string, expected: Plain];

/** Commands are written as text split on spaces ("" for an empty argument: `''`). */
function words(line: string): string[] {
  return line.split(" ").map((w) => (w === "''" ? "" : w));
}

function runCase(setup: readonly string[], cmd: string): Plain {
  const ks = new Keyspace();
  for (const line of setup) {
    const r = ks.exec(words(line), NOW);
    if (r.reply.type === "error") throw new Error(`setup ${line}: ${r.reply.value}`);
  }
  return plain(ks.exec(words(cmd), NOW).reply);
}

const STRINGS: Case[] = [
  ["GET missing", [], "GET k", null],
  ["GET string", ["SET k v"], "GET k", "v"],
  ["GET wrong type", ["RPUSH k a"], "GET k", WRONGTYPE],
  ["SET", [], "SET k v", OK],
  ["SET NX on missing", [], "SET k v NX", OK],
  ["SET NX on existing", ["SET k a"], "SET k v NX", null],
  ["SET XX on missing", [], "SET k v XX", null],
  ["SET XX on existing", ["SET k a"], "SET k v XX", OK],
  ["SET NX XX", [], "SET k v NX XX", SYNTAX],
  ["SET GET old", ["SET k a"], "SET k v GET", "a"],
  ["SET GET missing", [], "SET k v GET", null],
  ["SET GET wrong type", ["SADD k a"], "SET k v GET", WRONGTYPE],
  ["SET NX GET on existing", ["SET k a"], "SET k v NX GET", "a"],
  ["SET overwrites other types", ["SADD k a"], "SET k v", OK],
  ["SET EX", [], "SET k v EX 10", OK],
  ["SET EX 0", [], "SET k v EX 0", err("ERR invalid expire time in 'set' command")],
  ["SET PX negative", [], "SET k v PX -5", err("ERR invalid expire time in 'set' command")],
  ["SET EX not integer", [], "SET k v EX 1.5", NOT_INT],
  ["SET EX overflow", [], "SET k v EX 9223372036854775", err("ERR invalid expire time in 'set' command")],
  ["SET PX wraps", [], "SET k v PX 9223372036854775000", err("ERR invalid expire time in 'set' command")],
  ["SET EX without value", [], "SET k v EX", SYNTAX],
  ["SET EX PX", [], "SET k v EX 10 PX 100", SYNTAX],
  ["SET EX KEEPTTL", [], "SET k v EX 10 KEEPTTL", SYNTAX],
  ["SET KEEPTTL", ["SET k a PX 5000"], "SET k v KEEPTTL", OK],
  ["SET unknown option", [], "SET k v FOO", SYNTAX],
  ["SET PERSIST is GETEX-only", [], "SET k v PERSIST", SYNTAX],
  ["SET lower-case options", [], "set k v ex 10 nx", OK],
  ["SETNX new", [], "SETNX k v", 1],
  ["SETNX existing", ["SET k a"], "SETNX k v", 0],
  ["GETDEL", ["SET k v"], "GETDEL k", "v"],
  ["GETDEL missing", [], "GETDEL k", null],
  ["GETDEL wrong type", ["RPUSH k a"], "GETDEL k", WRONGTYPE],
  ["GETEX", ["SET k v"], "GETEX k EX 10", "v"],
  ["GETEX missing", [], "GETEX k EX nope", null],
  ["GETEX bad time", ["SET k v"], "GETEX k EX nope", NOT_INT],
  ["GETEX syntax", ["SET k v"], "GETEX k NX", SYNTAX],
  ["MGET", ["SET a 1", "RPUSH l x"], "MGET a b l", ["1", null, null]],
  ["MSET", [], "MSET a 1 b 2", OK],
  ["MSET odd", [], "MSET a 1 b", err("ERR wrong number of arguments for 'mset' command")],
  ["MSETNX", ["SET b 0"], "MSETNX a 1 b 2", 0],
  ["INCR missing", [], "INCR k", 1],
  ["INCR", ["SET k 41"], "INCR k", 42],
  ["INCR not integer", ["SET k 1.5"], "INCR k", NOT_INT],
  ["INCR leading plus", ["SET k +1"], "INCR k", NOT_INT],
  ["INCR leading zero", ["SET k 01"], "INCR k", NOT_INT],
  ["INCR max", ["SET k 9223372036854775807"], "INCR k", err("ERR increment or decrement would overflow")],
  ["INCR to max", ["SET k 9223372036854775806"], "INCR k", { big: "9223372036854775807" }],
  ["DECR min", ["SET k -9223372036854775808"], "DECR k", err("ERR increment or decrement would overflow")],
  ["DECR", ["SET k 0"], "DECR k", -1],
  ["INCR wrong type", ["SADD k a"], "INCR k", WRONGTYPE],
  ["INCRBY", ["SET k 10"], "INCRBY k -15", -5],
  ["INCRBY bad increment beats WRONGTYPE", ["SADD k a"], "INCRBY k x", NOT_INT],
  ["INCRBY out of int64", [], "INCRBY k 9223372036854775808", NOT_INT],
  ["DECRBY", ["SET k 10"], "DECRBY k 3", 7],
  ["DECRBY int64 min", [], "DECRBY k -9223372036854775808", err("ERR decrement would overflow")],
  ["INCRBYFLOAT", ["SET k 10.50"], "INCRBYFLOAT k 0.1", "10.6"],
  ["INCRBYFLOAT exponent", ["SET k 5.0e3"], "INCRBYFLOAT k 2.0e2", "5200"],
  ["INCRBYFLOAT long double", ["SET k 0.1"], "INCRBYFLOAT k 0.2", "0.3"],
  ["INCRBYFLOAT missing", [], "INCRBYFLOAT k 0.25", "0.25"],
  ["INCRBYFLOAT decrement", ["SET k 1"], "INCRBYFLOAT k -1.1", "-0.1"],
  ["INCRBYFLOAT to zero", ["SET k 0.5"], "INCRBYFLOAT k -0.5", "0"],
  ["INCRBYFLOAT huge", ["SET k 1e20"], "INCRBYFLOAT k 0.1", "100000000000000000000"],
  ["INCRBYFLOAT hex", [], "INCRBYFLOAT k 0x10", "16"],
  ["INCRBYFLOAT bad value", ["SET k abc"], "INCRBYFLOAT k 1", NOT_FLOAT],
  ["INCRBYFLOAT bad increment", ["SET k 1"], "INCRBYFLOAT k 1x", NOT_FLOAT],
  ["INCRBYFLOAT nan", [], "INCRBYFLOAT k nan", NOT_FLOAT],
  ["INCRBYFLOAT inf", [], "INCRBYFLOAT k inf", err("ERR increment would produce NaN or Infinity")],
  ["INCRBYFLOAT overflow", [], "INCRBYFLOAT k 1e5000", NOT_FLOAT],
  ["INCRBYFLOAT wrong type", ["RPUSH k a"], "INCRBYFLOAT k 1", WRONGTYPE],
  ["APPEND missing", [], "APPEND k abc", 3],
  ["APPEND", ["SET k ab"], "APPEND k cd", 4],
  ["APPEND wrong type", ["RPUSH k a"], "APPEND k cd", WRONGTYPE],
  ["STRLEN", ["SET k hello"], "STRLEN k", 5],
  ["STRLEN missing", [], "STRLEN k", 0],
  ["GETRANGE", ["SET k Hello"], "GETRANGE k 1 3", "ell"],
  ["GETRANGE negative", ["SET k Hello"], "GETRANGE k -3 -1", "llo"],
  ["GETRANGE reversed negatives", ["SET k Hello"], "GETRANGE k -1 -3", ""],
  ["GETRANGE past end", ["SET k Hello"], "GETRANGE k 0 100", "Hello"],
  ["GETRANGE start past end", ["SET k Hello"], "GETRANGE k 10 100", ""],
  ["GETRANGE missing", [], "GETRANGE k 0 1", ""],
  ["GETRANGE bad index", ["SET k Hello"], "GETRANGE k a 1", NOT_INT],
  ["SETRANGE", ["SET k Hello"], "SETRANGE k 1 ipp", 5],
  ["SETRANGE pads", [], "SETRANGE k 3 x", 4],
  ["SETRANGE empty on missing", [], "SETRANGE k 3 ''", 0],
  ["SETRANGE empty on existing", ["SET k abc"], "SETRANGE k 10 ''", 3],
  ["SETRANGE negative", [], "SETRANGE k -1 x", err("ERR offset is out of range")],
  ["SETRANGE 512MB", [], "SETRANGE k 536870912 x", err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")],
  ["SETRANGE beyond a JS string", [], "SETRANGE k 536870900 x", err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")],
  ["SETRANGE wrong type", ["RPUSH k a"], "SETRANGE k 0 x", WRONGTYPE],
];

const GENERIC: Case[] = [
  ["DEL", ["SET a 1", "SET b 2"], "DEL a b c a", 2],
  ["UNLINK", ["SET a 1"], "UNLINK a", 1],
  ["EXISTS counts repeats", ["SET a 1"], "EXISTS a a b", 2],
  ["EXPIRE", ["SET k v"], "EXPIRE k 10", 1],
  ["EXPIRE missing", [], "EXPIRE k 10", 0],
  ["EXPIRE not integer", ["SET k v"], "EXPIRE k ten", NOT_INT],
  ["EXPIRE overflow", ["SET k v"], "EXPIRE k 9223372036854775807", err("ERR invalid expire time in 'expire' command")],
  ["PEXPIRE overflow by now", ["SET k v"], "PEXPIRE k 9223372036854775807", err("ERR invalid expire time in 'pexpire' command")],
  ["EXPIRE negative deletes", ["SET k v"], "EXPIRE k -1", 1],
  ["EXPIRE bad option", ["SET k v"], "EXPIRE k 10 YY", err("ERR Unsupported option YY")],
  ["EXPIRE NX XX", ["SET k v"], "EXPIRE k 10 NX XX", err("ERR NX and XX, GT or LT options at the same time are not compatible")],
  ["EXPIRE GT LT", ["SET k v"], "EXPIRE k 10 GT LT", err("ERR GT and LT options at the same time are not compatible")],
  ["EXPIRE NX without TTL", ["SET k v"], "EXPIRE k 10 NX", 1],
  ["EXPIRE NX with TTL", ["SET k v EX 5"], "EXPIRE k 10 NX", 0],
  ["EXPIRE XX without TTL", ["SET k v"], "EXPIRE k 10 XX", 0],
  ["EXPIRE XX with TTL", ["SET k v EX 5"], "EXPIRE k 10 XX", 1],
  ["EXPIRE GT without TTL", ["SET k v"], "EXPIRE k 10 GT", 0],
  ["EXPIRE GT larger", ["SET k v EX 5"], "EXPIRE k 10 GT", 1],
  ["EXPIRE GT smaller", ["SET k v EX 50"], "EXPIRE k 10 GT", 0],
  ["EXPIRE LT without TTL", ["SET k v"], "EXPIRE k 10 LT", 1],
  ["EXPIRE LT larger", ["SET k v EX 5"], "EXPIRE k 10 LT", 0],
  ["PEXPIREAT past", ["SET k v"], `PEXPIREAT k ${NOW}`, 1],
  ["EXPIREAT", ["SET k v"], "EXPIREAT k 5000", 1],
  ["TTL missing", [], "TTL k", -2],
  ["TTL none", ["SET k v"], "TTL k", -1],
  ["TTL rounds", ["SET k v PX 1499"], "TTL k", 1],
  ["TTL rounds up", ["SET k v PX 1500"], "TTL k", 2],
  ["PTTL", ["SET k v PX 1500"], "PTTL k", 1500],
  ["PEXPIRETIME", ["SET k v PX 1500"], "PEXPIRETIME k", NOW + 1500],
  ["EXPIRETIME none", ["SET k v"], "EXPIRETIME k", -1],
  ["PERSIST", ["SET k v EX 5"], "PERSIST k", 1],
  ["PERSIST no TTL", ["SET k v"], "PERSIST k", 0],
  ["PERSIST missing", [], "PERSIST k", 0],
  ["TYPE string", ["SET k v"], "TYPE k", { simple: "string" }],
  ["TYPE list", ["RPUSH k v"], "TYPE k", { simple: "list" }],
  ["TYPE set", ["SADD k v"], "TYPE k", { simple: "set" }],
  ["TYPE hash", ["HSET k f v"], "TYPE k", { simple: "hash" }],
  ["TYPE none", [], "TYPE k", { simple: "none" }],
  ["RENAME", ["SET a 1"], "RENAME a b", OK],
  ["RENAME missing", [], "RENAME a b", err("ERR no such key")],
  ["RENAME same key", ["SET a 1"], "RENAME a a", OK],
  ["RENAME same missing key", [], "RENAME a a", err("ERR no such key")],
  ["RENAMENX", ["SET a 1"], "RENAMENX a b", 1],
  ["RENAMENX existing", ["SET a 1", "SET b 2"], "RENAMENX a b", 0],
  ["RENAMENX same", ["SET a 1"], "RENAMENX a a", 0],
  ["DBSIZE", ["SET a 1", "SADD b x"], "DBSIZE", 2],
  ["FLUSHALL", ["SET a 1"], "FLUSHALL", OK],
  ["FLUSHALL ASYNC", ["SET a 1"], "FLUSHALL async", OK],
  ["FLUSHALL bad", ["SET a 1"], "FLUSHALL now", SYNTAX],
  ["FLUSHDB too many", [], "FLUSHDB SYNC SYNC", SYNTAX],
  ["KEYS", ["SET one 1", "SET two 2", "SET three 3"], "KEYS t*", ["two", "three"]],
  ["KEYS all", ["SET a 1", "SET b 1"], "KEYS *", ["a", "b"]],
  ["KEYS class", ["SET hallo 1", "SET hello 1", "SET hillo 1"], "KEYS h[ae]llo", ["hallo", "hello"]],
  ["KEYS negated class", ["SET hallo 1", "SET hello 1", "SET hbllo 1"], "KEYS h[^e]llo", ["hallo", "hbllo"]],
  ["KEYS range", ["SET hallo 1", "SET hbllo 1", "SET hzllo 1"], "KEYS h[a-b]llo", ["hallo", "hbllo"]],
  ["KEYS escape", ["SET a*b 1", "SET axb 1"], "KEYS a\\*b", ["a*b"]],
  ["SCAN", ["SET a 1", "SET b 2"], "SCAN 0", ["0", ["a", "b"]]],
  ["SCAN COUNT", ["SET a 1", "SET b 2", "SET c 3"], "SCAN 0 COUNT 2", ["2", ["a", "b"]]],
  ["SCAN continue", ["SET a 1", "SET b 2", "SET c 3"], "SCAN 2 COUNT 2", ["0", ["c"]]],
  ["SCAN MATCH", ["SET a1 1", "SET b1 2", "SET a2 3"], "SCAN 0 MATCH a*", ["0", ["a1", "a2"]]],
  ["SCAN TYPE", ["SET a 1", "SADD b x", "RPUSH c x"], "SCAN 0 TYPE set", ["0", ["b"]]],
  ["SCAN bad cursor", [], "SCAN x", err("ERR invalid cursor")],
  ["SCAN COUNT 0", [], "SCAN 0 COUNT 0", SYNTAX],
  ["SCAN COUNT not int", [], "SCAN 0 COUNT x", NOT_INT],
  ["SCAN bad option", [], "SCAN 0 FOO 1", SYNTAX],
  ["SCAN option without value", [], "SCAN 0 COUNT", SYNTAX],
];

const LISTS: Case[] = [
  ["LPUSH", [], "LPUSH k a b c", 3],
  ["RPUSH onto list", ["RPUSH k a"], "RPUSH k b", 2],
  ["LPUSH wrong type", ["SET k v"], "LPUSH k a", WRONGTYPE],
  ["LPUSHX missing", [], "LPUSHX k a", 0],
  ["RPUSHX existing", ["RPUSH k a"], "RPUSHX k b c", 3],
  ["LPUSH order", ["LPUSH k a b c"], "LRANGE k 0 -1", ["c", "b", "a"]],
  ["LPOP", ["RPUSH k a b"], "LPOP k", "a"],
  ["RPOP", ["RPUSH k a b"], "RPOP k", "b"],
  ["LPOP missing", [], "LPOP k", null],
  ["LPOP count missing", [], "LPOP k 2", NIL_ARRAY],
  ["LPOP count", ["RPUSH k a b c"], "LPOP k 2", ["a", "b"]],
  ["RPOP count beyond", ["RPUSH k a b c"], "RPOP k 5", ["c", "b", "a"]],
  ["LPOP count 0", ["RPUSH k a"], "LPOP k 0", []],
  ["LPOP count 0 missing", [], "LPOP k 0", NIL_ARRAY],
  ["LPOP negative count", ["RPUSH k a"], "LPOP k -1", err("ERR value is out of range, must be positive")],
  ["LPOP bad count", ["RPUSH k a"], "LPOP k x", NOT_INT],
  ["LPOP too many args", ["RPUSH k a"], "LPOP k 1 2", err("ERR wrong number of arguments for 'lpop' command")],
  ["LPOP wrong type", ["SET k v"], "LPOP k", WRONGTYPE],
  ["LPOP last deletes", ["RPUSH k a", "LPOP k"], "EXISTS k", 0],
  ["LRANGE", ["RPUSH k a b c d"], "LRANGE k 1 2", ["b", "c"]],
  ["LRANGE negative", ["RPUSH k a b c d"], "LRANGE k -2 -1", ["c", "d"]],
  ["LRANGE clamp", ["RPUSH k a b"], "LRANGE k -100 100", ["a", "b"]],
  ["LRANGE empty", ["RPUSH k a b"], "LRANGE k 5 10", []],
  ["LRANGE missing", [], "LRANGE k 0 -1", []],
  ["LRANGE bad index", ["RPUSH k a"], "LRANGE k x 1", NOT_INT],
  ["LRANGE wrong type", ["SET k v"], "LRANGE k 0 1", WRONGTYPE],
  ["LLEN", ["RPUSH k a b"], "LLEN k", 2],
  ["LLEN missing", [], "LLEN k", 0],
  ["LINDEX", ["RPUSH k a b c"], "LINDEX k 1", "b"],
  ["LINDEX negative", ["RPUSH k a b c"], "LINDEX k -1", "c"],
  ["LINDEX out of range", ["RPUSH k a"], "LINDEX k 5", null],
  ["LINDEX missing", [], "LINDEX k x", null],
  ["LINDEX bad index", ["RPUSH k a"], "LINDEX k x", NOT_INT],
  ["LSET", ["RPUSH k a b"], "LSET k -1 z", OK],
  ["LSET missing", [], "LSET k 0 z", err("ERR no such key")],
  ["LSET out of range", ["RPUSH k a"], "LSET k 1 z", err("ERR index out of range")],
  ["LSET wrong type", ["SET k v"], "LSET k 0 z", WRONGTYPE],
  ["LREM all", ["RPUSH k a b a c a"], "LREM k 0 a", 3],
  ["LREM head", ["RPUSH k a b a c a", "LREM k 2 a"], "LRANGE k 0 -1", ["b", "c", "a"]],
  ["LREM tail", ["RPUSH k a b a c a", "LREM k -2 a"], "LRANGE k 0 -1", ["a", "b", "c"]],
  ["LREM missing", [], "LREM k 0 a", 0],
  ["LREM bad count", ["RPUSH k a"], "LREM k x a", NOT_INT],
  ["LTRIM", ["RPUSH k a b c d", "LTRIM k 1 -2"], "LRANGE k 0 -1", ["b", "c"]],
  ["LTRIM to empty deletes", ["RPUSH k a b", "LTRIM k 5 10"], "EXISTS k", 0],
  ["LTRIM missing", [], "LTRIM k 0 1", OK],
  ["LINSERT before", ["RPUSH k a c"], "LINSERT k BEFORE c b", 3],
  ["LINSERT after", ["RPUSH k a c", "LINSERT k after a b"], "LRANGE k 0 -1", ["a", "b", "c"]],
  ["LINSERT no pivot", ["RPUSH k a"], "LINSERT k BEFORE z b", -1],
  ["LINSERT missing", [], "LINSERT k BEFORE z b", 0],
  ["LINSERT syntax", ["RPUSH k a"], "LINSERT k AROUND a b", SYNTAX],
  ["BLPOP serves", ["RPUSH b x y"], "BLPOP a b 0", ["b", "x"]],
  ["BRPOP serves", ["RPUSH b x y"], "BRPOP a b 0", ["b", "y"]],
  ["BLPOP empty", [], "BLPOP a 1", NIL_ARRAY],
  ["BLPOP wrong type", ["SET a v"], "BLPOP a 0", WRONGTYPE],
  ["BLPOP bad timeout", [], "BLPOP a x", err("ERR timeout is not a float or out of range")],
  ["BLPOP negative timeout", [], "BLPOP a -1", err("ERR timeout is negative")],
];

const SETS: Case[] = [
  ["SADD", [], "SADD k a b a", 2],
  ["SADD existing", ["SADD k a"], "SADD k a b", 1],
  ["SADD wrong type", ["SET k v"], "SADD k a", WRONGTYPE],
  ["SREM", ["SADD k a b c"], "SREM k a z", 1],
  ["SREM last deletes", ["SADD k a", "SREM k a"], "EXISTS k", 0],
  ["SREM missing", [], "SREM k a", 0],
  ["SMEMBERS", ["SADD k b a"], "SMEMBERS k", set("a", "b")],
  ["SMEMBERS missing", [], "SMEMBERS k", set()],
  ["SMEMBERS wrong type", ["SET k v"], "SMEMBERS k", WRONGTYPE],
  ["SISMEMBER", ["SADD k a"], "SISMEMBER k a", 1],
  ["SISMEMBER no", ["SADD k a"], "SISMEMBER k b", 0],
  ["SMISMEMBER", ["SADD k a"], "SMISMEMBER k a b", [1, 0]],
  ["SMISMEMBER missing", [], "SMISMEMBER k a b", [0, 0]],
  ["SCARD", ["SADD k a b"], "SCARD k", 2],
  ["SINTER", ["SADD a 1 2 3", "SADD b 2 3 4"], "SINTER a b", set("2", "3")],
  ["SINTER missing", ["SADD a 1"], "SINTER a z", set()],
  ["SINTER wrong type after missing", ["SET s v"], "SINTER z s", WRONGTYPE],
  ["SUNION", ["SADD a 1 2", "SADD b 2 3"], "SUNION a b z", set("1", "2", "3")],
  ["SDIFF", ["SADD a 1 2 3", "SADD b 2"], "SDIFF a b z", set("1", "3")],
  ["SDIFF wrong type", ["SADD a 1", "SET b v"], "SDIFF a b", WRONGTYPE],
  ["SINTERSTORE", ["SADD a 1 2", "SADD b 2"], "SINTERSTORE d a b", 1],
  ["SUNIONSTORE result", ["SADD a 1", "SADD b 2", "SUNIONSTORE d a b"], "SMEMBERS d", set("1", "2")],
  ["SDIFFSTORE empty deletes", ["SADD a 1", "SET d x", "SDIFFSTORE d a a"], "EXISTS d", 0],
];

const HASHES: Case[] = [
  ["HSET", [], "HSET k a 1 b 2", 2],
  ["HSET update", ["HSET k a 1"], "HSET k a 2 b 2", 1],
  ["HSET odd", [], "HSET k a 1 b", err("ERR wrong number of arguments for 'hset' command")],
  ["HSET wrong type", ["SET k v"], "HSET k a 1", WRONGTYPE],
  ["HMSET", [], "HMSET k a 1", OK],
  ["HSETNX", ["HSET k a 1"], "HSETNX k a 2", 0],
  ["HSETNX new", [], "HSETNX k a 2", 1],
  ["HGET", ["HSET k a 1"], "HGET k a", "1"],
  ["HGET missing field", ["HSET k a 1"], "HGET k b", null],
  ["HGET wrong type", ["SET k v"], "HGET k a", WRONGTYPE],
  ["HMGET", ["HSET k a 1"], "HMGET k a b", ["1", null]],
  ["HMGET wrong type", ["SET k v"], "HMGET k a", WRONGTYPE],
  ["HDEL", ["HSET k a 1 b 2"], "HDEL k a c", 1],
  ["HDEL last deletes", ["HSET k a 1", "HDEL k a"], "EXISTS k", 0],
  ["HGETALL", ["HSET k a 1 b 2"], "HGETALL k", { map: [["a", "1"], ["b", "2"]] }],
  ["HGETALL missing", [], "HGETALL k", { map: [] }],
  ["HLEN", ["HSET k a 1 b 2"], "HLEN k", 2],
  ["HEXISTS", ["HSET k a 1"], "HEXISTS k a", 1],
  ["HSTRLEN", ["HSET k a hello"], "HSTRLEN k a", 5],
  ["HKEYS", ["HSET k a 1 b 2"], "HKEYS k", ["a", "b"]],
  ["HVALS", ["HSET k a 1 b 2"], "HVALS k", ["1", "2"]],
  ["HINCRBY", ["HSET k a 5"], "HINCRBY k a -7", -2],
  ["HINCRBY new", [], "HINCRBY k a 3", 3],
  ["HINCRBY not integer field", ["HSET k a x"], "HINCRBY k a 1", err("ERR hash value is not an integer")],
  ["HINCRBY bad increment", ["HSET k a 1"], "HINCRBY k a x", NOT_INT],
  ["HINCRBY overflow", ["HSET k a 9223372036854775807"], "HINCRBY k a 1", err("ERR increment or decrement would overflow")],
  ["HINCRBYFLOAT", ["HSET k a 10.5"], "HINCRBYFLOAT k a 0.1", "10.6"],
  ["HINCRBYFLOAT not float field", ["HSET k a x"], "HINCRBYFLOAT k a 1", err("ERR hash value is not a float")],
  ["HINCRBYFLOAT bad increment", [], "HINCRBYFLOAT k a x", NOT_FLOAT],
  ["HINCRBYFLOAT inf", [], "HINCRBYFLOAT k a inf", err("ERR value is NaN or Infinity")],
];

const DISPATCH: Case[] = [
  ["unknown command", [], "FOO a b", err("ERR unknown command 'FOO', with args beginning with: 'a' 'b' ")],
  ["unknown command no args", [], "foo", err("ERR unknown command 'foo', with args beginning with: ")],
  ["wrong arity exact", [], "GET", err("ERR wrong number of arguments for 'get' command")],
  ["wrong arity exact, too many", [], "get a b", err("ERR wrong number of arguments for 'get' command")],
  ["wrong arity minimum", [], "SET k", err("ERR wrong number of arguments for 'set' command")],
  ["unknown command, long args cut at 128", [], `FOO ${"x".repeat(200)} b`, err(`ERR unknown command 'FOO', with args beginning with: '${"x".repeat(128)}' `)],
  ["unknown command, args cut after 128 chars", [], `FOO ${"x".repeat(120)} abcdefghij z`, err(`ERR unknown command 'FOO', with args beginning with: '${"x".repeat(120)}' 'abcde' `)],
  ["case-insensitive name", ["SET k v"], "gEt k", "v"],
];

describe.each([
  ["strings", STRINGS],
  ["generic", GENERIC],
  ["lists", LISTS],
  ["sets", SETS],
  ["hashes", HASHES],
  ["dispatch", DISPATCH],
])("%s", (_group, cases) => {
  it.each(cases)("%s", (_name, setup, cmd, expected) => {
    expect(runCase(setup, cmd)).toEqual(expected);
  });
});

describe("state after commands", () => {
  const after = (setup: readonly string[], probe: string): Plain => runCase(setup, probe);

  it("SET keeps or drops the TTL", () => {
    expect(after(["SET k a PX 5000", "SET k v KEEPTTL"], "PTTL k")).toBe(5000);
    expect(after(["SET k a PX 5000", "SET k v"], "PTTL k")).toBe(-1);
    expect(after(["SET k 2 PX 5000", "INCRBYFLOAT k 1"], "PTTL k")).toBe(5000);
    expect(after(["SET k 1 PX 5000", "INCR k"], "PTTL k")).toBe(5000);
    expect(after(["SET k 1 PX 5000", "APPEND k x"], "PTTL k")).toBe(5000);
  });

  it("SETRANGE pads with zero bytes and patches in place", () => {
    expect(after(["SETRANGE k 3 x"], "GET k")).toBe("\0\0\0x");
    expect(after(["SET k Hello", "SETRANGE k 1 ipp"], "GET k")).toBe("Hippo");
    expect(after(["SET k ab", "SETRANGE k 1 xyz"], "GET k")).toBe("axyz");
  });

  it("INCRBYFLOAT refuses a value with an embedded zero byte", () => {
    expect(after(["SET k 1", "SETRANGE k 2 2"], "INCRBYFLOAT k 1")).toEqual(NOT_FLOAT);
  });

  it("RENAME moves the value and its TTL", () => {
    expect(after(["SET a 1 PX 5000", "SET b 2", "RENAME a b"], "GET b")).toBe("1");
    expect(after(["SET a 1 PX 5000", "RENAME a b"], "PTTL b")).toBe(5000);
    expect(after(["SET a 1", "RENAME a b"], "EXISTS a")).toBe(0);
  });

  it("EXPIRE in the past deletes at once", () => {
    expect(after(["SET k v", "EXPIRE k -1"], "EXISTS k")).toBe(0);
    expect(after(["SET k v", `PEXPIREAT k ${NOW}`], "EXISTS k")).toBe(0);
  });

  it("MSET, GETDEL, FLUSHALL, LSET, SINTERSTORE leave what Redis leaves", () => {
    expect(after(["MSET a 1 b 2"], "MGET a b")).toEqual(["1", "2"]);
    expect(after(["SET k v", "GETDEL k"], "EXISTS k")).toBe(0);
    expect(after(["SET a 1", "SADD b x", "FLUSHALL"], "DBSIZE")).toBe(0);
    expect(after(["RPUSH k a b", "LSET k -1 z"], "LRANGE k 0 -1")).toEqual(["a", "z"]);
    expect(after(["SADD a 1 2", "SADD b 2", "SET d x EX 100", "SINTERSTORE d a b"], "TTL d")).toBe(-1);
    expect(after(["HSET k a 1", "HINCRBYFLOAT k a 0.5"], "HGET k a")).toBe("1.5");
  });
});

describe("command table", () => {
  it("has Redis 7's arity and key positions", () => {
    expect(COMMANDS.get("get")).toEqual({ name: "get", arity: 2, flags: ["readonly", "fast"], firstKey: 1, lastKey: 1, step: 1 });
    expect(COMMANDS.get("mset")).toMatchObject({ arity: -3, firstKey: 1, lastKey: -1, step: 2 });
    expect(COMMANDS.get("rename")).toMatchObject({ arity: 3, firstKey: 1, lastKey: 2, step: 1 });
    expect(COMMANDS.get("blpop")).toMatchObject({ arity: -3, firstKey: 1, lastKey: -2, step: 1 });
    expect(COMMANDS.get("scan")).toMatchObject({ firstKey: 0, lastKey: 0, step: 0 });
  });

  it("extracts keys the way the router needs them", () => {
    const keys = (line: string): string[] => {
      const args = words(line);
      return commandKeys(COMMANDS.get((args[0] as string).toLowerCase()) ?? { name: "", arity: 0, flags: [], firstKey: 0, lastKey: 0, step: 0 }, args);
    };
    expect(keys("MSET a 1 b 2")).toEqual(["a", "b"]);
    expect(keys("DEL a b c")).toEqual(["a", "b", "c"]);
    expect(keys("BLPOP a b 0")).toEqual(["a", "b"]);
    expect(keys("RENAME a b")).toEqual(["a", "b"]);
    expect(keys("SINTERSTORE d a b")).toEqual(["d", "a", "b"]);
    expect(keys("SCAN 0")).toEqual([]);
  });

  it("every write command is flagged write and no read command is", () => {
    for (const spec of COMMANDS.values()) expect(spec.flags.includes("write") !== spec.flags.includes("readonly")).toBe(true);
  });

  it("has a handler for every entry", () => {
    const ks = new Keyspace();
    for (const name of COMMANDS.keys()) {
      const r = ks.exec([name], NOW);
      expect(r.reply.type === "error" && r.reply.value.startsWith("ERR unknown command")).toBe(false);
    }
  });
});
