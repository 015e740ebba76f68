// The Redis 7 keyspace of one node as a pure value: `exec(args, nowMs)` runs one command and
// returns its reply together with what the host needs to replicate it, invalidate WATCHes and
// park blocked clients. No IO, no clock, no randomness of its own: time is an argument and the
// active expiry cycle takes the node's PRNG.

import { assert } from "../machine.js";
import { Resp, type RespValue } from "../resp/codec.js";
import { byteStringToText } from "./bytes.js";
import { COMMANDS, type CommandSpec, arityOk } from "./commands.js";
import { Ctx, type Handler, type KeyspaceLimits, ReplyError } from "./ctx.js";
import { Db, type Entry, type SlotOf, type Value, isExpiredAt } from "./db.js";
import { DUMP_COMMANDS, dumpPayload, loadPayload } from "./dump.js";
import { GENERIC_COMMANDS } from "./generic.js";
import { HASH_COMMANDS } from "./hashes.js";
import { type BlockOn, type ListEnd, LIST_COMMANDS, blockingPop, tryServePop } from "./lists.js";
import { SET_COMMANDS } from "./sets.js";
import { STRING_COMMANDS } from "./strings.js";

export type { SlotOf } from "./db.js";
export type { BlockOn, ListEnd } from "./lists.js";

/** What one command did. */
export interface Result {
  readonly reply: RespValue;
  /** Changes to the dataset as Redis's server.dirty counts them (0 for reads and no-ops). */
  readonly dirty: number;
  /**
   * Commands to send to replicas and the AOF, in order: a DEL for each key lazy expiry removed,
   * then the command itself — as received, or rewritten the way Redis rewrites it (relative
   * expiries become PEXPIREAT / SET … PXAT, INCRBYFLOAT becomes SET … KEEPTTL, …). Empty when
   * nothing changed.
   */
  readonly propagate: readonly (readonly string[])[];
  /** Keys whose value or TTL changed, lazily expired ones included: what WATCH watches. */
  readonly touched: readonly string[];
  /** Set when BLPOP/BRPOP found nothing: the host parks the client (see lists.ts). */
  readonly block?: BlockOn;
}

export interface ActiveExpireReport {
  readonly sampled: number;
  readonly expired: number;
  /** One DEL per expired key, for replicas. */
  readonly propagate: readonly (readonly string[])[];
}

/** activeExpireCycle's tuning: keys sampled per round, and the expired share that repeats. */
export const ACTIVE_EXPIRE_SAMPLE_KEYS = 20;
export const ACTIVE_EXPIRE_REPEAT_PERCENT = 25;

export const DEFAULT_LIMITS: KeyspaceLimits = { stringBytesMax: 512 * 1024 * 1024 };

/** One key as a full resync or a migration carries it: DUMP's payload and the absolute expiry. */
export interface SnapshotEntry {
  readonly key: string;
  readonly payload: string;
  /** Absolute expiry time in ms on the node's clock, or null for no TTL. */
  readonly expireAtMs: number | null;
}

const HANDLERS: ReadonlyMap<string, Handler> = new Map(Object.entries({ ...STRING_COMMANDS, ...GENERIC_COMMANDS, ...LIST_COMMANDS, ...SET_COMMANDS, ...HASH_COMMANDS, ...DUMP_COMMANDS }));

/**
 * What exec needs of a command, found in one lookup: its spec and its handler (null for BLPOP
 * and BRPOP, which exec runs itself). Keyed by the lower- and the upper-case name, the spellings
 * clients send, so most requests need no lower-cased copy of the name.
 */
interface Runnable {
  readonly name: string;
  readonly spec: CommandSpec;
  readonly handler: Handler | null;
}
const RUNNABLE: ReadonlyMap<string, Runnable> = new Map(
  [...COMMANDS].flatMap(([name, spec]) => {
    const handler = HANDLERS.get(name) ?? null;
    if (handler === null && name !== "blpop" && name !== "brpop") return [];
    const r: Runnable = { name, spec, handler };
    return [[name, r] as const, [name.toUpperCase(), r] as const];
  }),
);

/**
 * Redis 7's reply to a command it does not know: the name and then the arguments quoted, 128
 * bytes at most each way. Redis prints them with `%.128s` / `%.*s`, which stop at a NUL byte.
 * The text is decoded as UTF-8 for the error reply (invalid bytes become U+FFFD: see README).
 */
export function unknownCommandError(args: readonly string[]): RespValue {
  let quoted = "";
  for (let i = 1; i < args.length && quoted.length < 128; i++) {
    quoted += `'${upToNul(args[i] as string).slice(0, 128 - quoted.length)}' `;
  }
  return Resp.error(`ERR unknown command '${byteStringToText(upToNul(args[0] ?? "").slice(0, 128))}', with args beginning with: ${byteStringToText(quoted)}`);
}

/** `s` up to its first NUL byte, as C's %s prints it. */
function upToNul(s: string): string {
  const nul = s.indexOf("\0");
  return nul < 0 ? s : s.slice(0, nul);
}

export class Keyspace {
  private readonly db: Db;
  /** stat_expiredkeys: keys removed by lazy or active expiry since creation. */
  expiredKeys = 0;

  /**
   * `slotOf` (the cluster's CRC16 mod 16384) turns on the slot index behind countKeysInSlot,
   * getKeysInSlot, deleteKeysInSlot and snapshotSlot; without it those are programmer errors.
   */
  constructor(
    private readonly limits: KeyspaceLimits = DEFAULT_LIMITS,
    slotOf?: SlotOf,
  ) {
    this.db = new Db(slotOf ?? null);
  }

  /** Number of keys, expired-but-not-yet-removed ones included (as DBSIZE counts). */
  get size(): number {
    return this.db.size;
  }

  /** Keys with a TTL, expired-but-not-yet-removed ones included (INFO keyspace's `expires=`). */
  get expiresCount(): number {
    return this.db.ttlCount;
  }

  /** CLUSTER COUNTKEYSINSLOT: keys in `slot`, expired-but-not-yet-removed ones included. */
  countKeysInSlot(slot: number): number {
    return this.db.slotSize(slot);
  }

  /** CLUSTER GETKEYSINSLOT: up to `count` keys of `slot`, in creation order. */
  getKeysInSlot(slot: number, count: number): string[] {
    return this.db.keysInSlot(slot, count);
  }

  /**
   * Deletes every key of `slot` (delKeysInSlot, when the node loses the slot) and returns them
   * in creation order; the node propagates a DEL for each and invalidates their WATCHes.
   */
  deleteKeysInSlot(slot: number): string[] {
    const keys = this.db.keysInSlot(slot);
    for (const key of keys) this.db.delete(key);
    return keys;
  }

  /** Drops every key without propagating anything: a replica's full resync starts with this. */
  clear(): void {
    this.db.clear();
  }

  /**
   * Every key with DUMP's payload and its expiry, in creation order (the order SCAN walks):
   * what a full resync sends. Expired keys not yet removed are included with their past expiry;
   * restoreEntry skips them.
   */
  snapshot(): SnapshotEntry[] {
    const out: SnapshotEntry[] = [];
    for (const key of this.db.keys()) out.push(this.snapshotEntry(key));
    return out;
  }

  /** The keys of one slot as snapshot() gives them, in creation order: what migrating it sends. */
  snapshotSlot(slot: number): SnapshotEntry[] {
    return this.db.keysInSlot(slot).map((key) => this.snapshotEntry(key));
  }

  /**
   * Loads one snapshot entry, replacing any key of that name, with no propagation and no dirty
   * count. An entry already expired at `nowMs` is not created (the old key still goes), as Redis
   * skips expired keys when a master loads an RDB; returns whether the key was created. A bad
   * payload throws: a master or a migrating node sending garbage is a bug, not an input error.
   */
  restoreEntry(key: string, payload: string, expireAtMs: number | null, nowMs: number): boolean {
    const loaded = loadPayload(payload);
    if (!loaded.ok) assert(false, `restoreEntry: payload refused (${loaded.problem})`);
    this.db.delete(key);
    if (isExpiredAt(expireAtMs, nowMs)) return false;
    this.db.add(key, loaded.value);
    this.db.setExpire(key, expireAtMs);
    return true;
  }

  private snapshotEntry(key: string): SnapshotEntry {
    const entry = this.db.peek(key) as Entry;
    return { key, payload: dumpPayload(entry.value), expireAtMs: this.db.expireAtMs(key) };
  }

  /** Runs one command. `args[0]` is its name in any case; every argument is a byte string. */
  exec(args: readonly string[], nowMs: number): Result {
    const first = args[0] ?? "";
    const cmd = RUNNABLE.get(first) ?? RUNNABLE.get(first.toLowerCase());
    if (cmd === undefined) return quiet(unknownCommandError(args));
    const spec = cmd.spec;
    if (!arityOk(spec, args.length)) return quiet(Resp.error(`ERR wrong number of arguments for '${spec.name}' command`));
    const ctx = this.context(args, nowMs);
    let reply: RespValue;
    let block: BlockOn | null = null;
    try {
      if (cmd.handler === null) {
        const r = blockingPop(ctx, cmd.name === "blpop" ? "left" : "right");
        reply = r.reply;
        block = r.block;
      } else {
        reply = cmd.handler(ctx);
      }
    } catch (e) {
      if (!(e instanceof ReplyError)) throw e;
      reply = e.reply;
    }
    const result = finish(ctx, reply);
    return block === null ? result : { ...result, block };
  }

  /**
   * The non-blocking half of BLPOP/BRPOP for a parked client: pops from the first of `keys`
   * holding a list, answering [key, element] and propagating LPOP/RPOP; null while all are empty.
   */
  serveBlockedPop(keys: readonly string[], end: ListEnd, nowMs: number): Result | null {
    const ctx = this.context([end === "left" ? "BLPOP" : "BRPOP", ...keys, "0"], nowMs);
    const reply = tryServePop(ctx, keys, end, false);
    return reply === null ? null : finish(ctx, reply);
  }

  /**
   * One active expiry cycle, like Redis's activeExpireCycle: sample up to 20 keys with a TTL,
   * delete the expired ones, and repeat while more than 25% of a round had expired — never
   * sampling more than `budget` keys in all.
   */
  activeExpire(nowMs: number, rng: { next(): number }, budget: number): ActiveExpireReport {
    let sampled = 0;
    let expired = 0;
    const propagate: string[][] = [];
    while (sampled < budget && this.db.ttlCount > 0) {
      const round = Math.min(ACTIVE_EXPIRE_SAMPLE_KEYS, budget - sampled, this.db.ttlCount);
      let roundExpired = 0;
      for (let i = 0; i < round && this.db.ttlCount > 0; i++) {
        const key = this.db.randomTtlKey(rng) as string;
        sampled++;
        if (isExpiredAt(this.db.expireAtMs(key), nowMs)) {
          this.db.delete(key);
          this.expiredKeys++;
          roundExpired++;
          propagate.push(["DEL", key]);
        }
      }
      expired += roundExpired;
      if (roundExpired * 100 <= round * ACTIVE_EXPIRE_REPEAT_PERCENT) break;
    }
    return { sampled, expired, propagate };
  }

  /** Inspection for tests and checkers: the value and TTL of `key` without expiring it. */
  inspect(key: string): { readonly value: Value; readonly expireAtMs: number | null } | undefined {
    const entry = this.db.peek(key);
    return entry === undefined ? undefined : { value: entry.value, expireAtMs: this.db.expireAtMs(key) };
  }

  private context(args: readonly string[], nowMs: number): Ctx {
    return new Ctx(this.db, nowMs, args, this.limits, () => {
      this.expiredKeys++;
    });
  }
}

function quiet(reply: RespValue): Result {
  return { reply, dirty: 0, propagate: NOTHING, touched: NOTHING };
}

/**
 * The Result of a finished command. Like Redis's call(), a command propagates when it changed
 * the dataset (dirty > 0), or when it asked to be propagated regardless (FLUSHALL on an empty
 * database sets `rewrite` with no dirty count).
 */
function finish(ctx: Ctx, reply: RespValue): Result {
  const own = ctx.rewrite ?? (ctx.dirty > 0 ? [ctx.args] : NOTHING);
  const propagate = ctx.expired === null ? own : [...ctx.expired.map((key) => ["DEL", key]), ...own];
  return { reply, dirty: ctx.dirty, propagate, touched: ctx.touched };
}

/** No commands, no keys: shared by every Result that has none (nobody mutates a Result). */
const NOTHING: readonly never[] = Object.freeze([]);
