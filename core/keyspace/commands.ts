// The command table: for each command, what Redis 7's COMMAND INFO says about it. The cluster
// router reads the key positions for slot checks and CROSSSLOT; exec reads the arity.

export type CommandFlag = "write" | "readonly" | "denyoom" | "fast" | "blocking";

export interface CommandSpec {
  /** Lower-case, as COMMAND INFO and error messages name it. */
  readonly name: string;
  /** Redis's convention: positive is exact, negative is a minimum; the name counts. */
  readonly arity: number;
  readonly flags: readonly CommandFlag[];
  /** Index of the first key argument (0: the command takes no keys). */
  readonly firstKey: number;
  /** Index of the last key argument; negative counts from the end (-1: the last argument). */
  readonly lastKey: number;
  /** Distance between key arguments (2 for MSET's key value pairs). */
  readonly step: number;
}

type Row = readonly [name: string, arity: number, flags: string, firstKey: number, lastKey: number, step: number];

// name, arity, flags, first key, last key, step — as COMMAND INFO of redis-server 7.0 prints them.
const ROWS: readonly Row[] = [
  // strings
  ["get", 2, "readonly fast", 1, 1, 1],
  ["set", -3, "write denyoom", 1, 1, 1],
  ["setnx", 3, "write denyoom fast", 1, 1, 1],
  ["getdel", 2, "write fast", 1, 1, 1],
  ["getex", -2, "write fast", 1, 1, 1],
  ["mget", -2, "readonly fast", 1, -1, 1],
  ["mset", -3, "write denyoom", 1, -1, 2],
  ["msetnx", -3, "write denyoom", 1, -1, 2],
  ["incr", 2, "write denyoom fast", 1, 1, 1],
  ["decr", 2, "write denyoom fast", 1, 1, 1],
  ["incrby", 3, "write denyoom fast", 1, 1, 1],
  ["decrby", 3, "write denyoom fast", 1, 1, 1],
  ["incrbyfloat", 3, "write denyoom fast", 1, 1, 1],
  ["append", 3, "write denyoom", 1, 1, 1],
  ["strlen", 2, "readonly fast", 1, 1, 1],
  ["getrange", 4, "readonly", 1, 1, 1],
  ["setrange", 4, "write denyoom", 1, 1, 1],
  // generic
  ["del", -2, "write", 1, -1, 1],
  ["unlink", -2, "write fast", 1, -1, 1],
  ["exists", -2, "readonly fast", 1, -1, 1],
  ["expire", -3, "write fast", 1, 1, 1],
  ["pexpire", -3, "write fast", 1, 1, 1],
  ["expireat", -3, "write fast", 1, 1, 1],
  ["pexpireat", -3, "write fast", 1, 1, 1],
  ["ttl", 2, "readonly fast", 1, 1, 1],
  ["pttl", 2, "readonly fast", 1, 1, 1],
  ["expiretime", 2, "readonly fast", 1, 1, 1],
  ["pexpiretime", 2, "readonly fast", 1, 1, 1],
  ["persist", 2, "write fast", 1, 1, 1],
  ["type", 2, "readonly fast", 1, 1, 1],
  ["rename", 3, "write", 1, 2, 1],
  ["renamenx", 3, "write fast", 1, 2, 1],
  ["dbsize", 1, "readonly fast", 0, 0, 0],
  ["flushall", -1, "write", 0, 0, 0],
  ["flushdb", -1, "write", 0, 0, 0],
  ["keys", 2, "readonly", 0, 0, 0],
  ["scan", -2, "readonly", 0, 0, 0],
  // DUMP is also "random" and RESTORE-ASKING "asking" in Redis 7.0; neither flag is modelled here.
  ["dump", 2, "readonly", 1, 1, 1],
  ["restore", -4, "write denyoom", 1, 1, 1],
  ["restore-asking", -4, "write denyoom", 1, 1, 1],
  // lists
  ["lpush", -3, "write denyoom fast", 1, 1, 1],
  ["rpush", -3, "write denyoom fast", 1, 1, 1],
  ["lpushx", -3, "write denyoom fast", 1, 1, 1],
  ["rpushx", -3, "write denyoom fast", 1, 1, 1],
  ["lpop", -2, "write fast", 1, 1, 1],
  ["rpop", -2, "write fast", 1, 1, 1],
  ["blpop", -3, "write blocking", 1, -2, 1],
  ["brpop", -3, "write blocking", 1, -2, 1],
  ["lrange", 4, "readonly", 1, 1, 1],
  ["llen", 2, "readonly fast", 1, 1, 1],
  ["lindex", 3, "readonly", 1, 1, 1],
  ["lset", 4, "write denyoom", 1, 1, 1],
  ["lrem", 4, "write", 1, 1, 1],
  ["ltrim", 4, "write", 1, 1, 1],
  ["linsert", 5, "write denyoom", 1, 1, 1],
  // sets
  ["sadd", -3, "write denyoom fast", 1, 1, 1],
  ["srem", -3, "write fast", 1, 1, 1],
  ["smembers", 2, "readonly", 1, 1, 1],
  ["sismember", 3, "readonly fast", 1, 1, 1],
  ["smismember", -3, "readonly fast", 1, 1, 1],
  ["scard", 2, "readonly fast", 1, 1, 1],
  ["sinter", -2, "readonly", 1, -1, 1],
  ["sunion", -2, "readonly", 1, -1, 1],
  ["sdiff", -2, "readonly", 1, -1, 1],
  ["sinterstore", -3, "write denyoom", 1, -1, 1],
  ["sunionstore", -3, "write denyoom", 1, -1, 1],
  ["sdiffstore", -3, "write denyoom", 1, -1, 1],
  // hashes
  ["hset", -4, "write denyoom fast", 1, 1, 1],
  ["hsetnx", 4, "write denyoom fast", 1, 1, 1],
  ["hmset", -4, "write denyoom fast", 1, 1, 1],
  ["hget", 3, "readonly fast", 1, 1, 1],
  ["hmget", -3, "readonly fast", 1, 1, 1],
  ["hdel", -3, "write fast", 1, 1, 1],
  ["hgetall", 2, "readonly", 1, 1, 1],
  ["hlen", 2, "readonly fast", 1, 1, 1],
  ["hexists", 3, "readonly fast", 1, 1, 1],
  ["hstrlen", 3, "readonly fast", 1, 1, 1],
  ["hincrby", 4, "write denyoom fast", 1, 1, 1],
  ["hincrbyfloat", 4, "write denyoom fast", 1, 1, 1],
  ["hkeys", 2, "readonly", 1, 1, 1],
  ["hvals", 2, "readonly", 1, 1, 1],
];

/** Every command the keyspace runs, by lower-case name. */
export const COMMANDS: ReadonlyMap<string, CommandSpec> = new Map(
  ROWS.map(([name, arity, flags, firstKey, lastKey, step]) => [name, { name, arity, flags: flags.split(" ") as CommandFlag[], firstKey, lastKey, step }]),
);

/** The key arguments of `args` per `spec` (for slot checks and CROSSSLOT); arity must hold. */
export function commandKeys(spec: CommandSpec, args: readonly string[]): string[] {
  if (spec.firstKey === 0) return [];
  const last = spec.lastKey < 0 ? args.length + spec.lastKey : spec.lastKey;
  const keys: string[] = [];
  for (let i = spec.firstKey; i <= last && i < args.length; i += spec.step) keys.push(args[i] as string);
  return keys;
}

/** Whether `args` has a number of arguments `spec` accepts. */
export function arityOk(spec: CommandSpec, argc: number): boolean {
  return spec.arity > 0 ? argc === spec.arity : argc >= -spec.arity;
}
