// DUMP, RESTORE and RESTORE-ASKING (cluster.c's dumpCommand and restoreCommand), and the payload
// they exchange. The payload is Faultline's own, not Redis's RDB object encoding, framed the way
// Redis frames it so that the same two checks come first:
//
//   type tag (1 byte) | body | format version (2 bytes, LE) | CRC-64/Jones of all before (8 bytes, LE)
//
// Body, every count and length a u32 little-endian, every string its raw bytes:
//   string  len bytes
//   list    count, then count × (len bytes), head first
//   set     count, then count × (len bytes)
//   hash    count, then count × (field len bytes, value len bytes)
//
// A payload with an unknown version or a wrong checksum is refused with Redis's version/checksum
// error; one that checks out but does not parse (unknown tag, truncated, trailing bytes, an empty
// aggregate, a repeated set member or hash field — all of which Redis's rdbLoadObject refuses too)
// is "Bad data format". The version, 0xFA01, is far above any RDB version (Redis 7.0 writes 10,
// 7.2 writes 11): a real Redis refuses our payloads and we refuse its, rather than misreading them.

import { Resp, type RespValue } from "../resp/codec.js";
import { bulk, upperAscii } from "./bytes.js";
import { crc64LittleEndian, u32LittleEndian } from "./crc64.js";
import { type Ctx, ERR, type Handler, fail, intArg } from "./ctx.js";
import type { Value } from "./db.js";
import { Deque } from "./deque.js";

/** Version 1 of the payload format, as written in its footer. */
export const DUMP_FORMAT_VERSION = 0xfa01;

const TAG_STRING = 0;
const TAG_LIST = 1;
const TAG_SET = 2;
const TAG_HASH = 3;

/** Version (2 bytes) and checksum (8 bytes) after the body. */
const FOOTER_BYTES = 10;
const LENGTH_BYTES = 4;

/** restoreCommand's error texts. */
export const RESTORE_ERR = {
  busyKey: "BUSYKEY Target key name already exists.",
  versionOrChecksum: "ERR DUMP payload version or checksum are wrong",
  badFormat: "ERR Bad data format",
  invalidTtl: "ERR Invalid TTL value, must be >= 0",
  invalidIdleTime: "ERR Invalid IDLETIME value, must be >= 0",
  invalidFreq: "ERR Invalid FREQ value, must be >= 0 and <= 255",
} as const;

/** Why a payload was refused: its footer (version or checksum), or its body. */
export type PayloadProblem = "version-or-checksum" | "format";

/** What loadPayload found: a value, or why there is none (a string value cannot say it). */
export type Loaded = { readonly ok: true; readonly value: Value } | { readonly ok: false; readonly problem: PayloadProblem };

function lengthPrefixed(s: string): string {
  return u32LittleEndian(s.length) + s;
}

/** The payload of `value`: what DUMP replies and snapshots carry. */
export function dumpPayload(value: Value): string {
  const out = body(value) + String.fromCharCode(DUMP_FORMAT_VERSION & 0xff, DUMP_FORMAT_VERSION >>> 8);
  return out + crc64LittleEndian(out);
}

/** The type tag and body of `value`'s payload. */
function body(value: Value): string {
  if (typeof value === "string") return String.fromCharCode(TAG_STRING) + lengthPrefixed(value);
  let out: string;
  switch (value.kind) {
    case "list":
      out = String.fromCharCode(TAG_LIST) + u32LittleEndian(value.items.length);
      for (let i = 0; i < value.items.length; i++) out += lengthPrefixed(value.items.at(i) as string);
      return out;
    case "set":
      out = String.fromCharCode(TAG_SET) + u32LittleEndian(value.members.size);
      for (const member of value.members) out += lengthPrefixed(member);
      return out;
    case "hash":
      out = String.fromCharCode(TAG_HASH) + u32LittleEndian(value.fields.size);
      for (const [field, v] of value.fields) out += lengthPrefixed(field) + lengthPrefixed(v);
      return out;
  }
}

/** The value in `payload`, freshly built (never shared with the payload's source), or why not. */
export function loadPayload(payload: string): Loaded {
  if (!footerChecksOut(payload)) return { ok: false, problem: "version-or-checksum" };
  const value = parseBody(new Reader(payload, payload.length - FOOTER_BYTES));
  return value === null ? { ok: false, problem: "format" } : { ok: true, value };
}

/** verifyDumpPayload, with our version: exactly ours, where Redis accepts any older RDB version. */
function footerChecksOut(payload: string): boolean {
  if (payload.length < FOOTER_BYTES) return false;
  const footer = payload.length - FOOTER_BYTES;
  const version = payload.charCodeAt(footer) | (payload.charCodeAt(footer + 1) << 8);
  if (version !== DUMP_FORMAT_VERSION) return false;
  return payload.endsWith(crc64LittleEndian(payload, footer + 2));
}

/** A cursor over the body; reading past its end clears `ok` rather than throwing. */
class Reader {
  pos = 0;
  ok = true;

  constructor(
    private readonly s: string,
    private readonly end: number,
  ) {}

  byte(): number {
    if (this.pos >= this.end) return this.stop();
    return this.s.charCodeAt(this.pos++);
  }

  u32(): number {
    if (this.pos + LENGTH_BYTES > this.end) return this.stop();
    const p = this.pos;
    this.pos += LENGTH_BYTES;
    return (this.s.charCodeAt(p) | (this.s.charCodeAt(p + 1) << 8) | (this.s.charCodeAt(p + 2) << 16) | (this.s.charCodeAt(p + 3) << 24)) >>> 0;
  }

  string(): string {
    const length = this.u32();
    if (!this.ok || this.pos + length > this.end) {
      this.stop();
      return "";
    }
    this.pos += length;
    return this.s.slice(this.pos - length, this.pos);
  }

  /**
   * An element count of an aggregate whose elements take `strings` strings each, or -1 when the
   * rest of the body could not hold that many: a corrupt count never drives a long loop.
   */
  count(strings: number): number {
    const n = this.u32();
    return this.ok && n * strings * LENGTH_BYTES <= this.end - this.pos ? n : -1;
  }

  /** Whether everything was read, and nothing more is left. */
  done(): boolean {
    return this.ok && this.pos === this.end;
  }

  private stop(): number {
    this.ok = false;
    return 0;
  }
}

function parseBody(r: Reader): Value | null {
  switch (r.byte()) {
    case TAG_STRING: {
      const value = r.string();
      return r.done() ? value : null;
    }
    case TAG_LIST: {
      const n = r.count(1);
      if (n <= 0) return null;
      const items = new Deque();
      for (let i = 0; i < n && r.ok; i++) items.pushBack(r.string());
      return r.done() ? { kind: "list", items } : null;
    }
    case TAG_SET: {
      const n = r.count(1);
      if (n <= 0) return null;
      const members = new Set<string>();
      for (let i = 0; i < n && r.ok; i++) {
        const member = r.string();
        if (members.has(member)) return null;
        members.add(member);
      }
      return r.done() ? { kind: "set", members } : null;
    }
    case TAG_HASH: {
      const n = r.count(2);
      if (n <= 0) return null;
      const fields = new Map<string, string>();
      for (let i = 0; i < n && r.ok; i++) {
        const field = r.string();
        if (fields.has(field)) return null;
        fields.set(field, r.string());
      }
      return r.done() ? { kind: "hash", fields } : null;
    }
    default:
      return null;
  }
}

function dump(ctx: Ctx): RespValue {
  const entry = ctx.lookup(ctx.arg(1));
  return entry === undefined ? Resp.null : bulk(dumpPayload(entry.value));
}

interface RestoreOptions {
  replace: boolean;
  absttl: boolean;
}

/**
 * The options after the payload, as restoreCommand parses them: IDLETIME and FREQ exclude each
 * other (the second is a syntax error). Both are validated and then ignored: this keyspace keeps
 * no LRU clock or LFU counter, so there is nothing for them to set.
 */
function parseRestoreOptions(ctx: Ctx): RestoreOptions {
  const options: RestoreOptions = { replace: false, absttl: false };
  let idleSeen = false;
  let freqSeen = false;
  for (let j = 4; j < ctx.args.length; j++) {
    const opt = upperAscii(ctx.arg(j));
    const more = ctx.args.length - j - 1;
    if (opt === "REPLACE") options.replace = true;
    else if (opt === "ABSTTL") options.absttl = true;
    else if (opt === "IDLETIME" && more >= 1 && !freqSeen) {
      if (intArg(ctx.arg(++j)) < 0n) fail(RESTORE_ERR.invalidIdleTime);
      idleSeen = true;
    } else if (opt === "FREQ" && more >= 1 && !idleSeen) {
      const freq = intArg(ctx.arg(++j));
      if (freq < 0n || freq > 255n) fail(RESTORE_ERR.invalidFreq);
      freqSeen = true;
    } else fail(ERR.syntax);
  }
  return options;
}

/**
 * RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency], in
 * restoreCommand's order: options, BUSYKEY, ttl, payload footer, payload body. ttl 0 is no TTL; a
 * relative ttl is added to now. An expiry time at or before now creates nothing (replying OK)
 * and, when REPLACE removed an old key, propagates DEL. A created key with a relative ttl
 * propagates as RESTORE … <absolute ms> … ABSTTL (Redis 7.0, #8474), so replicas agree on it.
 */
function restore(ctx: Ctx): RespValue {
  const key = ctx.arg(1);
  const options = parseRestoreOptions(ctx);
  if (!options.replace && ctx.lookup(key) !== undefined) fail(RESTORE_ERR.busyKey);
  const ttl = intArg(ctx.arg(2));
  if (ttl < 0n) fail(RESTORE_ERR.invalidTtl);
  const loaded = loadPayload(ctx.arg(3));
  if (!loaded.ok) fail(loaded.problem === "format" ? RESTORE_ERR.badFormat : RESTORE_ERR.versionOrChecksum);

  // As dbDelete under REPLACE: an old key goes whether or not it has expired, without counting
  // as an expiry.
  const deleted = options.replace && ctx.db.delete(key);
  const now = BigInt(ctx.nowMs);
  // C's signed addition wraps a huge relative ttl negative; Redis then finds it already expired.
  const when = ttl === 0n || options.absttl ? ttl : BigInt.asIntN(64, ttl + now);
  if (when !== 0n && when <= now) {
    if (deleted) {
      ctx.modified(key);
      ctx.rewrite = [["DEL", key]];
    }
    return Resp.ok;
  }
  ctx.db.add(key, loaded.value);
  if (when !== 0n) {
    ctx.db.setExpire(key, Number(when));
    if (!options.absttl) {
      const cmd = [...ctx.args];
      cmd[2] = when.toString();
      cmd.push("ABSTTL");
      ctx.rewrite = [cmd];
    }
  }
  ctx.modified(key);
  return Resp.ok;
}

export const DUMP_COMMANDS: Readonly<Record<string, Handler>> = {
  dump,
  restore,
  "restore-asking": restore,
};
