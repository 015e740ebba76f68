// The replicated key-value store the Raft log drives: string keys and values, compare-and-set,
// client sessions for exactly-once writes, a `registry/` namespace for service addresses with
// optional leases, and watches answered from a bounded history of changes.
//
// Everything here is a deterministic function of the committed commands, in log order. Raft
// replicates commands as JSON, so every field is validated on apply: a malformed command is
// already committed on every replica and must apply the same way everywhere, as a no-op with an
// error reply, never as an exception.
//
// Sessions follow the Raft dissertation §6.3 (and LogCabin): a client opens a session (its id is
// the log index of the opening command), numbers its writes, and the store keeps, per session,
// the highest sequence number applied and its reply. A retry of that number gets the saved reply
// without applying again; an older number gets "session-stale". Sessions end deterministically:
// the least recently used one is evicted when `sessionsMax` are open, and one idle longer than
// `sessionIdleMsMax` expires. Idle time is measured on the cluster clock — the largest `atMs` the
// leader stamped on any applied command — never on a replica's own clock. A write under an
// unknown (expired, evicted, never opened) session fails with "session-unknown" rather than
// silently opening a new one: its earlier attempt may have applied and we no longer know.
//
// Watches are etcd's v2 sliding window: the last `historyMax` changes are kept; a watch for
// changes after an index older than what is kept answers "compacted" (re-read, then watch from
// the index of the read).
//
// See KV.md for the formats.

import { assert } from "../machine.js";
import type { Json } from "../trace.js";
import type { StateMachine } from "./state-machine.js";

// ---------------------------------------------------------------------------------------------
// Commands, queries, replies

/** A client's session and the number of this request in it (1, 2, …; one request in flight). */
export type Session = { readonly clientId: number; readonly seq: number };

export type PutCommand = {
  readonly op: "put";
  readonly key: string;
  readonly value: string;
  readonly session?: Session;
  readonly atMs?: number;
};
export type DeleteCommand = { readonly op: "delete"; readonly key: string; readonly session?: Session; readonly atMs?: number };
/** `expected: null` means "the key is absent"; `value: null` deletes on success. */
export type CasCommand = {
  readonly op: "cas";
  readonly key: string;
  readonly expected: string | null;
  readonly value: string | null;
  readonly session?: Session;
  readonly atMs?: number;
};
/** Writes `registry/<service>` = address; with `ttlMs`, the entry is deleted once the cluster clock passes its lease. */
export type RegisterCommand = {
  readonly op: "register";
  readonly service: string;
  readonly address: string;
  readonly ttlMs?: number;
  readonly session?: Session;
  readonly atMs?: number;
};
export type SessionOpenCommand = { readonly op: "session-open"; readonly atMs?: number };
export type SessionCloseCommand = { readonly op: "session-close"; readonly clientId: number; readonly atMs?: number };
/** Only advances the cluster clock (expiring sessions and leases); the leader proposes one now and then. */
export type TickCommand = { readonly op: "tick"; readonly atMs: number };

/** Commands that change keys and may carry a session. */
export type WriteCommand = PutCommand | DeleteCommand | CasCommand | RegisterCommand;
export type KvCommand = WriteCommand | SessionOpenCommand | SessionCloseCommand | TickCommand;

export type GetQuery = { readonly op: "get"; readonly key: string };
/** Keys starting with `prefix`, sorted, strictly after `after` if given, at most `limit`. */
export type ListQuery = { readonly op: "list"; readonly prefix: string; readonly after?: string; readonly limit?: number };
/** Changes to one key (`key`) or to every key under `prefix` at log indexes > `afterIndex`. */
export type WatchQuery =
  | { readonly op: "watch"; readonly key: string; readonly afterIndex: number }
  | { readonly op: "watch"; readonly prefix: string; readonly afterIndex: number };
export type KvQuery = GetQuery | ListQuery | WatchQuery;

/** A key as reads show it. `modIndex` is the log index that last wrote its value. */
export type KvRecord = {
  readonly key: string;
  readonly value: string;
  readonly createIndex: number;
  readonly modIndex: number;
  /** Cluster time at which a registered entry's lease ends; null for keys without a lease. */
  readonly leaseUntilMs: number | null;
};

/** One change: the value written, or null when the key was deleted (by a command or a lease ending). */
export type WatchEvent = { readonly key: string; readonly value: string | null; readonly modIndex: number };

export type KvErrorCode = "malformed" | "session-unknown" | "session-stale" | "compacted";

/** `index`: the log index of the command, or for a query the applied index it was answered at. */
export type ErrorReply = { readonly ok: false; readonly index: number; readonly error: KvErrorCode; readonly message: string };
/** A watch from before the kept history; re-read, then watch after the read's index. */
export type CompactedReply = ErrorReply & { readonly error: "compacted"; readonly compactedIndex: number };

/** put, delete, register: `prev` is the value before (null: absent). */
export type WriteReply = { readonly ok: true; readonly index: number; readonly prev: string | null };
export type CasReply = WriteReply & { readonly swapped: boolean };
export type SessionOpenReply = { readonly ok: true; readonly index: number; readonly clientId: number };
export type SessionCloseReply = { readonly ok: true; readonly index: number; readonly closed: boolean };
export type TickReply = { readonly ok: true; readonly index: number };
export type CommandReply = WriteReply | CasReply | SessionOpenReply | SessionCloseReply | TickReply | ErrorReply;

export type GetReply = { readonly ok: true; readonly index: number; readonly kv: KvRecord | null };
/** `more`: keys past the limit exist; list again with `after` = the last key. */
export type ListReply = { readonly ok: true; readonly index: number; readonly kvs: readonly KvRecord[]; readonly more: boolean };
/** `index`: every change under the watch up to this index is in `events`; watch again after it. */
export type WatchReply = { readonly ok: true; readonly index: number; readonly events: readonly WatchEvent[] };
export type QueryReply = GetReply | ListReply | WatchReply | ErrorReply | CompactedReply;

export const REGISTRY_PREFIX = "registry/";

export function registryKey(service: string): string {
  return REGISTRY_PREFIX + service;
}

/** Builders for commands and queries (the Raft leader stamps `atMs` with `stampTime`). */
export const Kv = {
  put: (key: string, value: string): PutCommand => ({ op: "put", key, value }),
  delete: (key: string): DeleteCommand => ({ op: "delete", key }),
  cas: (key: string, expected: string | null, value: string | null): CasCommand => ({ op: "cas", key, expected, value }),
  register: (service: string, address: string, ttlMs?: number): RegisterCommand =>
    ttlMs === undefined ? { op: "register", service, address } : { op: "register", service, address, ttlMs },
  deregister: (service: string): DeleteCommand => ({ op: "delete", key: registryKey(service) }),
  openSession: (): SessionOpenCommand => ({ op: "session-open" }),
  closeSession: (clientId: number): SessionCloseCommand => ({ op: "session-close", clientId }),
  tick: (atMs: number): TickCommand => ({ op: "tick", atMs }),
  get: (key: string): GetQuery => ({ op: "get", key }),
  list: (prefix: string, page: { after?: string; limit?: number } = {}): ListQuery => ({ op: "list", prefix, ...page }),
  watchKey: (key: string, afterIndex: number): WatchQuery => ({ op: "watch", key, afterIndex }),
  watchPrefix: (prefix: string, afterIndex: number): WatchQuery => ({ op: "watch", prefix, afterIndex }),
  lookup: (service: string): GetQuery => ({ op: "get", key: registryKey(service) }),
  watchService: (service: string, afterIndex: number): WatchQuery => ({ op: "watch", key: registryKey(service), afterIndex }),
  /** The same write, as request `seq` of session `clientId`. */
  withSession: <C extends WriteCommand>(command: C, clientId: number, seq: number): C => ({ ...command, session: { clientId, seq } }),
};

/** The leader's clock reading added to a command before it is appended; other JSON passes unchanged (it will apply as malformed). */
export function stampTime(command: Json, atMs: number): Json {
  if (command === null || typeof command !== "object" || Array.isArray(command)) return command;
  return { ...(command as JsonObject), atMs };
}

/**
 * What a write does to its key's value, as a pure function: the store applies it, and a
 * linearizability model can step with it. `swapped` is false only for a cas whose `expected`
 * did not match (then the value stays).
 */
export function decide(prev: string | null, command: WriteCommand): { readonly next: string | null; readonly swapped: boolean } {
  switch (command.op) {
    case "put":
      return { next: command.value, swapped: true };
    case "register":
      return { next: command.address, swapped: true };
    case "delete":
      return { next: null, swapped: true };
    case "cas":
      return prev === command.expected ? { next: command.value, swapped: true } : { next: prev, swapped: false };
  }
}

/** The key a write touches. */
export function writeKey(command: WriteCommand): string {
  return command.op === "register" ? registryKey(command.service) : command.key;
}

// ---------------------------------------------------------------------------------------------
// Limits

export interface KvLimits {
  /** Characters in a key (registry keys included) or a prefix. */
  readonly keyLengthMax: number;
  /** Characters in a value or an address. */
  readonly valueLengthMax: number;
  /** Open sessions; opening one more evicts the least recently used. */
  readonly sessionsMax: number;
  /** Cluster-clock time a session may stay idle before the next clock advance expires it. */
  readonly sessionIdleMsMax: number;
  /** Longest lease a register may ask for. */
  readonly leaseMsMax: number;
  /** Changes kept for watches. */
  readonly historyMax: number;
  /** Records one list returns (and its default limit). */
  readonly listMax: number;
  /** Events one watch reply returns (more only to keep one log index's changes together). */
  readonly watchEventsMax: number;
}

/** Every replica must run with the same limits: they decide what applies. */
export const KV_LIMITS_DEFAULT: KvLimits = {
  keyLengthMax: 1024,
  valueLengthMax: 64 * 1024,
  sessionsMax: 1024,
  sessionIdleMsMax: 60_000,
  leaseMsMax: 24 * 60 * 60 * 1000,
  historyMax: 1000,
  listMax: 1000,
  watchEventsMax: 1000,
};

// ---------------------------------------------------------------------------------------------
// The store

interface Entry {
  value: string;
  readonly createIndex: number;
  modIndex: number;
  leaseUntilMs: number | null;
}

interface SessionState {
  /** Highest request number applied; 0 before the first. */
  lastSeq: number;
  /** The reply to `lastSeq`, returned again to a retry. */
  reply: Json;
  /** Log index of the session's latest command: the LRU order. */
  lastIndex: number;
  /** Cluster time of the session's latest command: idle expiry. */
  lastActiveMs: number;
}

export class KvStore implements StateMachine {
  /** Index of the latest applied command; applies must come in increasing index order. */
  private appliedIndex = 0;
  /** Cluster time: the largest `atMs` applied so far (leaders' clocks differ; time never runs back). */
  private clockMs = 0;
  private readonly entries = new Map<string, Entry>();
  /** Keys that have a lease: the only ones the clock can delete. */
  private readonly leased = new Set<string>();
  /**
   * Open sessions by id, in least-recently-used order: touching one moves it to the end. Map
   * order equals ascending `lastIndex`, and so ascending `lastActiveMs`, on every replica.
   */
  private readonly sessions = new Map<number, SessionState>();
  /** The latest changes, oldest first, at most `historyMax`. */
  private history: WatchEvent[] = [];
  /** Highest index of a change dropped from `history`: watches after an older index may miss one. */
  private compactedIndex = 0;

  constructor(readonly limits: KvLimits = KV_LIMITS_DEFAULT) {
    for (const [name, limit] of Object.entries(limits)) assert(Number.isSafeInteger(limit) && limit >= 1, `KvLimits.${name} must be a whole number ≥ 1, got ${limit}`);
    assert(limits.keyLengthMax > REGISTRY_PREFIX.length, `KvLimits.keyLengthMax must leave room for "${REGISTRY_PREFIX}" and a service name`);
  }

  apply(index: number, command: Json): CommandReply {
    assert(Number.isSafeInteger(index) && index > this.appliedIndex, `apply index ${index} after ${this.appliedIndex}`);
    this.appliedIndex = index;
    const parsed = parseCommand(command, this.limits);
    if (typeof parsed === "string") return fail(index, "malformed", parsed);
    if (parsed.atMs !== undefined && parsed.atMs > this.clockMs) this.advanceClock(index, parsed.atMs);
    switch (parsed.op) {
      case "session-open":
        return this.openSession(index);
      case "session-close":
        return { ok: true, index, closed: this.sessions.delete(parsed.clientId) };
      case "tick":
        return { ok: true, index };
      case "put":
      case "delete":
      case "cas":
      case "register":
        return this.applyInSession(index, parsed);
    }
  }

  read(query: Json): QueryReply | null {
    const parsed = parseQuery(query, this.limits);
    if (typeof parsed === "string") return fail(this.appliedIndex, "malformed", parsed);
    switch (parsed.op) {
      case "get": {
        const entry = this.entries.get(parsed.key);
        return { ok: true, index: this.appliedIndex, kv: entry === undefined ? null : record(parsed.key, entry) };
      }
      case "list":
        return this.list(parsed);
      case "watch":
        return this.watch(parsed);
    }
  }

  snapshot(): Json {
    const keys = [...this.entries.keys()].sort(compareStrings);
    return sortKeys({
      format: SNAPSHOT_FORMAT,
      appliedIndex: this.appliedIndex,
      clockMs: this.clockMs,
      compactedIndex: this.compactedIndex,
      kvs: keys.map((key) => record(key, this.entries.get(key) as Entry)),
      sessions: [...this.sessions].map(([clientId, s]) => ({ clientId, ...s })),
      history: this.history,
    });
  }

  restore(snapshot: Json): void {
    const s = parseSnapshot(snapshot);
    this.appliedIndex = s.appliedIndex;
    this.clockMs = s.clockMs;
    this.compactedIndex = s.compactedIndex;
    this.entries.clear();
    this.leased.clear();
    for (const r of s.kvs) {
      this.entries.set(r.key, { value: r.value, createIndex: r.createIndex, modIndex: r.modIndex, leaseUntilMs: r.leaseUntilMs });
      if (r.leaseUntilMs !== null) this.leased.add(r.key);
    }
    this.sessions.clear();
    for (const { clientId, ...state } of s.sessions) this.sessions.set(clientId, state);
    this.history = [...s.history];
  }

  /** The applied index (what reads reflect). */
  get index(): number {
    return this.appliedIndex;
  }

  // --- commands

  private openSession(index: number): SessionOpenReply {
    if (this.sessions.size >= this.limits.sessionsMax) {
      const lru = this.sessions.keys().next();
      if (lru.done !== true) this.sessions.delete(lru.value);
    }
    this.sessions.set(index, { lastSeq: 0, reply: null, lastIndex: index, lastActiveMs: this.clockMs });
    return { ok: true, index, clientId: index };
  }

  /** Exactly once: a write under a session applies only for a request number above the last. */
  private applyInSession(index: number, command: WriteCommand): CommandReply {
    if (command.session === undefined) return this.write(index, command);
    const { clientId, seq } = command.session;
    const session = this.sessions.get(clientId);
    if (session === undefined) {
      return fail(index, "session-unknown", `session ${clientId} is not open (expired, evicted, closed or never opened): open a new one`);
    }
    if (seq < session.lastSeq) {
      return fail(index, "session-stale", `request ${seq} of session ${clientId} is older than request ${session.lastSeq}, the latest applied: its reply is gone`);
    }
    this.sessions.delete(clientId);
    this.sessions.set(clientId, session);
    session.lastIndex = index;
    session.lastActiveMs = this.clockMs;
    if (seq === session.lastSeq) return session.reply as CommandReply;
    const reply = this.write(index, command);
    session.lastSeq = seq;
    // Stored with sorted keys, as a snapshot holds it, so a retry's reply has the same bytes on a
    // replica that restored a snapshot as on one that applied the log.
    session.reply = sortKeys(reply);
    return reply;
  }

  private write(index: number, command: WriteCommand): WriteReply | CasReply {
    const key = writeKey(command);
    const entry = this.entries.get(key);
    const prev = entry === undefined ? null : entry.value;
    const { next, swapped } = decide(prev, command);
    if (command.op === "register" && entry !== undefined && prev === next) {
      // Same address again: a lease renewal, not a change watchers need to hear about.
      this.setLease(key, entry, this.leaseEnd(command));
    } else if (swapped) {
      this.set(index, key, next, command.op === "register" ? this.leaseEnd(command) : null);
    }
    return command.op === "cas" ? { ok: true, index, prev, swapped } : { ok: true, index, prev };
  }

  private leaseEnd(command: RegisterCommand): number | null {
    return command.ttlMs === undefined ? null : this.clockMs + command.ttlMs;
  }

  /** Writes or deletes a key at `index` and records the change for watches. Deleting an absent key changes nothing. */
  private set(index: number, key: string, value: string | null, leaseUntilMs: number | null): void {
    const entry = this.entries.get(key);
    if (value === null) {
      if (entry === undefined) return;
      this.entries.delete(key);
      this.leased.delete(key);
    } else if (entry === undefined) {
      const created: Entry = { value, createIndex: index, modIndex: index, leaseUntilMs: null };
      this.entries.set(key, created);
      this.setLease(key, created, leaseUntilMs);
    } else {
      entry.value = value;
      entry.modIndex = index;
      this.setLease(key, entry, leaseUntilMs);
    }
    this.history.push({ key, value, modIndex: index });
    while (this.history.length > this.limits.historyMax) {
      this.compactedIndex = (this.history.shift() as WatchEvent).modIndex;
    }
  }

  private setLease(key: string, entry: Entry, leaseUntilMs: number | null): void {
    entry.leaseUntilMs = leaseUntilMs;
    if (leaseUntilMs === null) this.leased.delete(key);
    else this.leased.add(key);
  }

  /** Moves cluster time forward to `atMs`: idle sessions expire, ended leases delete their keys (in key order). */
  private advanceClock(index: number, atMs: number): void {
    this.clockMs = atMs;
    for (const [clientId, session] of this.sessions) {
      if (this.clockMs - session.lastActiveMs <= this.limits.sessionIdleMsMax) break;
      this.sessions.delete(clientId);
    }
    const ended = [...this.leased].filter((key) => ((this.entries.get(key) as Entry).leaseUntilMs as number) <= this.clockMs);
    for (const key of ended.sort(compareStrings)) this.set(index, key, null, null);
  }

  // --- queries

  private list(query: ListQuery): ListReply {
    const limit = query.limit ?? this.limits.listMax;
    const after = query.after;
    const keys = [...this.entries.keys()]
      .filter((key) => key.startsWith(query.prefix) && (after === undefined || key > after))
      .sort(compareStrings);
    const kvs = keys.slice(0, limit).map((key) => record(key, this.entries.get(key) as Entry));
    return { ok: true, index: this.appliedIndex, kvs, more: keys.length > limit };
  }

  private watch(query: WatchQuery): WatchReply | CompactedReply | null {
    if (query.afterIndex < this.compactedIndex) {
      return {
        ok: false,
        index: this.appliedIndex,
        error: "compacted",
        message: `changes after index ${query.afterIndex} are no longer kept (kept: after ${this.compactedIndex}); read again and watch from the read's index`,
        compactedIndex: this.compactedIndex,
      };
    }
    const matches = "key" in query ? (key: string) => key === query.key : (key: string) => key.startsWith(query.prefix);
    const events: WatchEvent[] = [];
    for (let i = firstAfter(this.history, query.afterIndex); i < this.history.length; i++) {
      const event = this.history[i] as WatchEvent;
      const last = events[events.length - 1];
      // Stop at the size limit, but never between two changes of one index: the client resumes after it.
      if (events.length >= this.limits.watchEventsMax && last !== undefined && event.modIndex !== last.modIndex) {
        return { ok: true, index: last.modIndex, events };
      }
      if (matches(event.key)) events.push(event);
    }
    return events.length === 0 ? null : { ok: true, index: this.appliedIndex, events };
  }
}

function record(key: string, e: Entry): KvRecord {
  return { key, value: e.value, createIndex: e.createIndex, modIndex: e.modIndex, leaseUntilMs: e.leaseUntilMs };
}

function fail(index: number, error: KvErrorCode, message: string): ErrorReply {
  return { ok: false, index, error, message };
}

/** Position of the first event with modIndex > afterIndex (history is in index order). */
function firstAfter(history: readonly WatchEvent[], afterIndex: number): number {
  let lo = 0;
  let hi = history.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((history[mid] as WatchEvent).modIndex <= afterIndex) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Code-unit order, the same on every replica (localeCompare is not). */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A copy with every object's keys in sorted order, so JSON.stringify gives one text per value. */
function sortKeys(json: Json): Json {
  if (json === null || typeof json !== "object") return json;
  if (Array.isArray(json)) return (json as readonly Json[]).map(sortKeys);
  const obj = json as JsonObject;
  const out: Record<string, Json> = {};
  for (const key of Object.keys(obj).sort(compareStrings)) out[key] = sortKeys(obj[key] as Json);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Validation: committed JSON becomes a typed command, or a message saying what is wrong

type JsonObject = { readonly [key: string]: Json };

/** A field failed validation; caught at the top of each parse and turned into a message. */
class Malformed extends Error {}

function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Malformed(message);
}

function object(json: Json | undefined, what: string, fields: readonly string[]): JsonObject {
  check(json !== null && json !== undefined && typeof json === "object" && !Array.isArray(json), `${what} must be a JSON object`);
  const obj = json as JsonObject;
  const unknown = Object.keys(obj).filter((f) => !fields.includes(f)).sort(compareStrings);
  check(unknown.length === 0, `${what}: unknown field ${JSON.stringify(unknown[0])} (fields: ${fields.join(", ")})`);
  return obj;
}

function text(obj: JsonObject, field: string, what: string, lengthMax: number, lengthMin = 0): string {
  const v = obj[field];
  check(typeof v === "string", `${what}: ${field} must be a string`);
  check(v.length >= lengthMin && v.length <= lengthMax, `${what}: ${field} must have ${lengthMin} to ${lengthMax} characters, got ${v.length}`);
  return v;
}

function textOrNull(obj: JsonObject, field: string, what: string, lengthMax: number): string | null {
  check(field in obj, `${what}: ${field} is required (a string, or null)`);
  return obj[field] === null ? null : text(obj, field, what, lengthMax);
}

function count(obj: JsonObject, field: string, what: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = obj[field];
  check(typeof v === "number" && Number.isSafeInteger(v) && v >= min && v <= max, `${what}: ${field} must be a whole number from ${min} to ${max}`);
  return v;
}

function present(obj: JsonObject, field: string): boolean {
  return obj[field] !== undefined;
}

/** Runs a parser; a Malformed becomes its message. */
function attempt<T>(parse: () => T): T | string {
  try {
    return parse();
  } catch (e: unknown) {
    if (e instanceof Malformed) return e.message;
    throw e;
  }
}

const STAMP = ["session", "atMs"] as const;

function parseCommand(json: Json, limits: KvLimits): KvCommand | string {
  return attempt(() => {
    check(json !== null && typeof json === "object" && !Array.isArray(json), "a command must be a JSON object with an op");
    const op = (json as JsonObject)["op"];
    const what = typeof op === "string" ? op : "command";
    const key = (obj: JsonObject) => text(obj, "key", what, limits.keyLengthMax, 1);
    const value = (obj: JsonObject, field: string) => text(obj, field, what, limits.valueLengthMax);
    switch (op) {
      case "put": {
        const obj = object(json, what, ["op", "key", "value", ...STAMP]);
        return { op, key: key(obj), value: value(obj, "value"), ...stamps(obj, what) };
      }
      case "delete": {
        const obj = object(json, what, ["op", "key", ...STAMP]);
        return { op, key: key(obj), ...stamps(obj, what) };
      }
      case "cas": {
        const obj = object(json, what, ["op", "key", "expected", "value", ...STAMP]);
        const expected = textOrNull(obj, "expected", what, limits.valueLengthMax);
        return { op, key: key(obj), expected, value: textOrNull(obj, "value", what, limits.valueLengthMax), ...stamps(obj, what) };
      }
      case "register":
        return parseRegister(object(json, what, ["op", "service", "address", "ttlMs", ...STAMP]), limits);
      case "session-open":
        return { op, ...time(object(json, what, ["op", "atMs"]), what) };
      case "session-close": {
        const obj = object(json, what, ["op", "clientId", "atMs"]);
        return { op, clientId: count(obj, "clientId", what, 1), ...time(obj, what) };
      }
      case "tick":
        return { op, atMs: count(object(json, what, ["op", "atMs"]), "atMs", what) };
      default:
        throw new Malformed(`unknown op ${JSON.stringify(op ?? null)} (ops: put, delete, cas, register, session-open, session-close, tick)`);
    }
  });
}

function parseRegister(obj: JsonObject, limits: KvLimits): RegisterCommand {
  const what = "register";
  const service = text(obj, "service", what, limits.keyLengthMax - REGISTRY_PREFIX.length, 1);
  const address = text(obj, "address", what, limits.valueLengthMax, 1);
  const ttl = present(obj, "ttlMs") ? { ttlMs: count(obj, "ttlMs", what, 1, limits.leaseMsMax) } : {};
  return { op: "register", service, address, ...ttl, ...stamps(obj, what) };
}

function time(obj: JsonObject, what: string): { atMs?: number } {
  return present(obj, "atMs") ? { atMs: count(obj, "atMs", what) } : {};
}

function stamps(obj: JsonObject, what: string): { session?: Session; atMs?: number } {
  if (!present(obj, "session")) return time(obj, what);
  const s = object(obj["session"], `${what}: session`, ["clientId", "seq"]);
  const session = { clientId: count(s, "clientId", `${what}: session`, 1), seq: count(s, "seq", `${what}: session`, 1) };
  return { session, ...time(obj, what) };
}

function parseQuery(json: Json, limits: KvLimits): KvQuery | string {
  return attempt(() => {
    check(json !== null && typeof json === "object" && !Array.isArray(json), "a query must be a JSON object with an op");
    const op = (json as JsonObject)["op"];
    switch (op) {
      case "get":
        return { op, key: text(object(json, op, ["op", "key"]), "key", op, limits.keyLengthMax, 1) };
      case "list": {
        const obj = object(json, op, ["op", "prefix", "after", "limit"]);
        const after = present(obj, "after") ? { after: text(obj, "after", op, limits.keyLengthMax) } : {};
        const limit = present(obj, "limit") ? { limit: count(obj, "limit", op, 1, limits.listMax) } : {};
        return { op, prefix: text(obj, "prefix", op, limits.keyLengthMax), ...after, ...limit };
      }
      case "watch": {
        const obj = object(json, op, ["op", "key", "prefix", "afterIndex"]);
        check(present(obj, "key") !== present(obj, "prefix"), "watch: give exactly one of key and prefix");
        const afterIndex = count(obj, "afterIndex", op);
        if (present(obj, "key")) return { op, key: text(obj, "key", op, limits.keyLengthMax, 1), afterIndex };
        return { op, prefix: text(obj, "prefix", op, limits.keyLengthMax), afterIndex };
      }
      default:
        throw new Malformed(`unknown query op ${JSON.stringify(op ?? null)} (ops: get, list, watch)`);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// Snapshots

const SNAPSHOT_FORMAT = "faultline-kv/1";

interface ParsedSnapshot {
  readonly appliedIndex: number;
  readonly clockMs: number;
  readonly compactedIndex: number;
  readonly kvs: readonly KvRecord[];
  readonly sessions: readonly (SessionState & { readonly clientId: number })[];
  readonly history: readonly WatchEvent[];
}

/** Snapshots come from a replica through a checksummed transfer: a bad one is a bug, so it throws, naming what is wrong. */
function parseSnapshot(json: Json): ParsedSnapshot {
  const parsed = attempt((): ParsedSnapshot => {
    const obj = object(json, "snapshot", ["format", "appliedIndex", "clockMs", "compactedIndex", "kvs", "sessions", "history"]);
    check(obj["format"] === SNAPSHOT_FORMAT, `snapshot: format must be ${JSON.stringify(SNAPSHOT_FORMAT)}`);
    const appliedIndex = count(obj, "appliedIndex", "snapshot");
    const kvs = array(obj, "kvs").map((j) => snapshotRecord(j, appliedIndex));
    check(ascending(kvs, (a, b) => a.key < b.key), "snapshot: kvs must be sorted by key, without repeats");
    const sessions = array(obj, "sessions").map((j) => snapshotSession(j, appliedIndex));
    check(ascending(sessions, (a, b) => a.lastIndex < b.lastIndex), "snapshot: sessions must be in least-recently-used order");
    const history = array(obj, "history").map((j) => snapshotEvent(j, appliedIndex));
    check(ascending(history, (a, b) => a.modIndex <= b.modIndex), "snapshot: history must be in index order");
    const compactedIndex = count(obj, "compactedIndex", "snapshot", 0, appliedIndex);
    return { appliedIndex, clockMs: count(obj, "clockMs", "snapshot"), compactedIndex, kvs, sessions, history };
  });
  if (typeof parsed === "string") throw new Error(`invalid kv snapshot: ${parsed}`);
  return parsed;
}

function snapshotRecord(json: Json, appliedIndex: number): KvRecord {
  const what = "snapshot kv";
  const r = object(json, what, ["key", "value", "createIndex", "modIndex", "leaseUntilMs"]);
  return {
    key: text(r, "key", what, Number.MAX_SAFE_INTEGER, 1),
    value: text(r, "value", what, Number.MAX_SAFE_INTEGER),
    createIndex: count(r, "createIndex", what, 1, appliedIndex),
    modIndex: count(r, "modIndex", what, 1, appliedIndex),
    leaseUntilMs: r["leaseUntilMs"] === null ? null : count(r, "leaseUntilMs", what),
  };
}

function snapshotSession(json: Json, appliedIndex: number): SessionState & { readonly clientId: number } {
  const what = "snapshot session";
  const s = object(json, what, ["clientId", "lastSeq", "reply", "lastIndex", "lastActiveMs"]);
  check(s["reply"] !== undefined, `${what}: reply is required`);
  return {
    clientId: count(s, "clientId", what, 1, appliedIndex),
    lastSeq: count(s, "lastSeq", what),
    reply: s["reply"] as Json,
    lastIndex: count(s, "lastIndex", what, 1, appliedIndex),
    lastActiveMs: count(s, "lastActiveMs", what),
  };
}

function snapshotEvent(json: Json, appliedIndex: number): WatchEvent {
  const what = "snapshot event";
  const e = object(json, what, ["key", "value", "modIndex"]);
  return {
    key: text(e, "key", what, Number.MAX_SAFE_INTEGER, 1),
    value: e["value"] === null ? null : text(e, "value", what, Number.MAX_SAFE_INTEGER),
    modIndex: count(e, "modIndex", what, 1, appliedIndex),
  };
}

function array(obj: JsonObject, field: string): readonly Json[] {
  const v = obj[field];
  check(Array.isArray(v), `snapshot: ${field} must be an array`);
  return v as readonly Json[];
}

/** Does every neighbouring pair satisfy `inOrder`? */
function ascending<T>(items: readonly T[], inOrder: (a: T, b: T) => boolean): boolean {
  return items.every((item, i) => i === 0 || inOrder(items[i - 1] as T, item));
}
