// RESP, the Redis wire protocol, in both directions and both versions.
//
// Server side: `RequestParser` turns the bytes a client sends into commands (arrays of binary-safe
// arguments) the way redis-server 7's networking.c does — multibulk (`*N\r\n$len\r\n…`) and inline
// (`SET a "b c"\n`) requests, the same limits, the same protocol-error texts — and `RespWriter`
// encodes replies for a RESP2 or a RESP3 client, degrading RESP3-only types for RESP2 as Redis does.
// Client side: `ReplyParser` reads RESP2/RESP3 replies (our CLI and the simulator's clients), and
// `encodeRequest` writes commands.
//
// Both parsers are fed chunks as they arrive and give the same results for any split of the
// stream, a byte at a time included: parsing state lives in the parser, never in the chunking.
// Everything here is pure: bytes are Uint8Array, UTF-8 is done by hand (core/ has no TextEncoder).

import { assert, assertNever } from "../machine.js";

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/** The protocol a connection speaks: 2 until the client says `HELLO 3`. */
export type Protocol = 2 | 3;

/** A map entry or an attribute entry: RESP3 map keys may be any value. */
export type RespPair = readonly [RespValue, RespValue];

/**
 * One RESP value. The encoder takes it and the client-side parser returns it.
 *
 * - `simple` and `error` are single lines of text (an error's text starts with its code: `ERR …`).
 * - `integer` is a signed 64-bit integer: a safe-integer number, or a bigint beyond that range.
 * - `null` is `$-1` for a RESP2 client, or `*-1` when `array` is set (a command that answers
 *   with an array when it has one, like BLPOP on timeout); RESP3 has one null, `_`.
 * - `verbatim` carries a three-letter format (`txt`, `mkd`) besides its bytes.
 * - `attribute` is RESP3's out-of-band `|` map, attached to the value it precedes.
 */
export type RespValue =
  | { readonly type: "simple"; readonly value: string }
  | { readonly type: "error"; readonly value: string }
  | { readonly type: "integer"; readonly value: number | bigint }
  | { readonly type: "bulk"; readonly value: Uint8Array }
  | { readonly type: "null"; readonly array?: boolean }
  | { readonly type: "array"; readonly value: readonly RespValue[] }
  | { readonly type: "map"; readonly value: readonly RespPair[] }
  | { readonly type: "set"; readonly value: readonly RespValue[] }
  | { readonly type: "push"; readonly value: readonly RespValue[] }
  | { readonly type: "double"; readonly value: number }
  | { readonly type: "boolean"; readonly value: boolean }
  | { readonly type: "bignum"; readonly value: bigint }
  | { readonly type: "verbatim"; readonly format: string; readonly value: Uint8Array }
  | { readonly type: "attribute"; readonly attributes: readonly RespPair[]; readonly value: RespValue };

/** Constructors, so command code reads `Resp.bulk(v)` rather than object literals. */
export const Resp = {
  ok: { type: "simple", value: "OK" } as RespValue,
  null: { type: "null" } as RespValue,
  nullArray: { type: "null", array: true } as RespValue,
  simple: (value: string): RespValue => ({ type: "simple", value }),
  error: (value: string): RespValue => ({ type: "error", value }),
  integer: (value: number | bigint): RespValue => ({ type: "integer", value }),
  /** Text is stored as its UTF-8 bytes. */
  bulk: (value: string | Uint8Array): RespValue => ({ type: "bulk", value: typeof value === "string" ? encodeUtf8(value) : value }),
  array: (value: readonly RespValue[]): RespValue => ({ type: "array", value }),
  map: (value: readonly RespPair[]): RespValue => ({ type: "map", value }),
  set: (value: readonly RespValue[]): RespValue => ({ type: "set", value }),
  push: (value: readonly RespValue[]): RespValue => ({ type: "push", value }),
  double: (value: number): RespValue => ({ type: "double", value }),
  boolean: (value: boolean): RespValue => ({ type: "boolean", value }),
  bignum: (value: bigint): RespValue => ({ type: "bignum", value }),
  verbatim: (format: string, value: string | Uint8Array): RespValue => ({ type: "verbatim", format, value: typeof value === "string" ? encodeUtf8(value) : value }),
  attribute: (attributes: readonly RespPair[], value: RespValue): RespValue => ({ type: "attribute", attributes, value }),
} as const;

// ---------------------------------------------------------------------------------------------
// UTF-8 (core/ has no TextEncoder/TextDecoder)
// ---------------------------------------------------------------------------------------------

const REPLACEMENT_CHAR = 0xfffd;

/** UTF-8 bytes of `text`; a lone surrogate becomes U+FFFD, as TextEncoder does. */
export function encodeUtf8(text: string): Uint8Array {
  const out = new Uint8Array(utf8ByteLength(text));
  writeUtf8(text, out, 0, false);
  return out;
}

/** How many bytes `text` takes in UTF-8 (a lone surrogate counts as U+FFFD, three bytes). */
export function utf8ByteLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * Writes `text` as UTF-8 into `out` at `at` (which must have room) and returns the end. With
 * `oneLine`, CR and LF become spaces, as Redis does to error texts, so a line cannot break framing.
 */
function writeUtf8(text: string, out: Uint8Array, at: number, oneLine: boolean): number {
  let p = at;
  for (let i = 0; i < text.length; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[p++] = oneLine && (c === CR || c === LF) ? SPACE : c;
    } else if (c < 0x800) {
      out[p++] = 0xc0 | (c >> 6);
      out[p++] = 0x80 | (c & 0x3f);
    } else if (c >= 0xd800 && c <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      c = 0x10000 + ((c - 0xd800) << 10) + (text.charCodeAt(++i) - 0xdc00);
      out[p++] = 0xf0 | (c >> 18);
      out[p++] = 0x80 | ((c >> 12) & 0x3f);
      out[p++] = 0x80 | ((c >> 6) & 0x3f);
      out[p++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) c = REPLACEMENT_CHAR;
      out[p++] = 0xe0 | (c >> 12);
      out[p++] = 0x80 | ((c >> 6) & 0x3f);
      out[p++] = 0x80 | (c & 0x3f);
    }
  }
  return p;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/**
 * Text of UTF-8 bytes `bytes[start, end)`. Malformed input decodes as TextDecoder does by default
 * (WHATWG): each maximal invalid subsequence becomes one U+FFFD.
 */
export function decodeUtf8(bytes: Uint8Array, start = 0, end = bytes.length): string {
  const units: number[] = [];
  let text = "";
  let i = start;
  while (i < end) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      units.push(b);
      i++;
    } else {
      i = decodeUtf8Sequence(bytes, i, end, units);
    }
    if (units.length >= 8192) {
      text += String.fromCharCode(...units);
      units.length = 0;
    }
  }
  return text + String.fromCharCode(...units);
}

/** Decodes the multi-byte sequence starting at `i` into UTF-16 `units`; returns where the next one starts. */
function decodeUtf8Sequence(bytes: Uint8Array, i: number, end: number, units: number[]): number {
  const lead = bytes[i] as number;
  let need: number;
  let cp: number;
  let lower = 0x80;
  let upper = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    need = 1;
    cp = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    need = 2;
    cp = lead & 0x0f;
    if (lead === 0xe0) lower = 0xa0; // no overlong forms
    if (lead === 0xed) upper = 0x9f; // no surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    need = 3;
    cp = lead & 0x07;
    if (lead === 0xf0) lower = 0x90; // no overlong forms
    if (lead === 0xf4) upper = 0x8f; // nothing past U+10FFFF
  } else {
    units.push(REPLACEMENT_CHAR);
    return i + 1;
  }
  let j = i + 1;
  for (let k = 0; k < need; k++, j++) {
    const c = j < end ? (bytes[j] as number) : -1;
    if (c < lower || c > upper) {
      // The byte that broke the sequence is not consumed: it may start the next one.
      units.push(REPLACEMENT_CHAR);
      return j;
    }
    lower = 0x80;
    upper = 0xbf;
    cp = (cp << 6) | (c & 0x3f);
  }
  if (cp >= 0x10000) units.push(0xd800 + ((cp - 0x10000) >> 10), 0xdc00 + ((cp - 0x10000) & 0x3ff));
  else units.push(cp);
  return j;
}

/** The arguments of a command as text (UTF-8, malformed bytes as U+FFFD). */
export function argsToStrings(args: readonly Uint8Array[]): string[] {
  return args.map((a) => decodeUtf8(a));
}

// ---------------------------------------------------------------------------------------------
// Bytes
// ---------------------------------------------------------------------------------------------

const CR = 0x0d;
const LF = 0x0a;
const SPACE = 0x20;
const MINUS = 0x2d;
const PLUS = 0x2b;
const COLON = 0x3a;
const STAR = 0x2a;
const DOLLAR = 0x24;
const UNDERSCORE = 0x5f;
const COMMA = 0x2c;
const HASH = 0x23;
const OPEN_PAREN = 0x28;
const EQUALS = 0x3d;
const BANG = 0x21;
const PERCENT = 0x25;
const TILDE = 0x7e;
const GREATER = 0x3e;
const PIPE = 0x7c;
const DQUOTE = 0x22;
const SQUOTE = 0x27;
const BACKSLASH = 0x5c;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/** `ByteQueue.indexOf` scans this many bytes itself before handing the rest to the native search. */
const INDEX_OF_LOOP_BYTES = 32;

/** A queue's buffer starts this big… */
const QUEUE_BYTES_INITIAL = 16 * 1024;
/** …and once it drains, a buffer grown past this is given back (one huge argument must not pin it). */
const QUEUE_BYTES_KEEP_MAX = 1024 * 1024;

/**
 * Received bytes not yet parsed: a growable buffer with a read end (`head`) and a write end
 * (`tail`). Positions in its methods are relative to the head.
 */
class ByteQueue {
  private bytes = new Uint8Array(QUEUE_BYTES_INITIAL);
  private head = 0;
  private tail = 0;

  get size(): number {
    return this.tail - this.head;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.tail + chunk.length > this.bytes.length) this.makeRoom(chunk.length);
    this.bytes.set(chunk, this.tail);
    this.tail += chunk.length;
  }

  /**
   * Moves the unread bytes to the front, growing the buffer unless that leaves it at least half
   * free: compacting a nearly full buffer on every push would copy it once per byte received.
   */
  private makeRoom(n: number): void {
    const size = this.size;
    const needed = size + n;
    const target = needed * 2 > this.bytes.length ? Math.max(this.bytes.length * 2, needed * 2) : this.bytes.length;
    if (target === this.bytes.length) this.bytes.copyWithin(0, this.head, this.tail);
    else {
      const grown = new Uint8Array(target);
      grown.set(this.bytes.subarray(this.head, this.tail));
      this.bytes = grown;
    }
    this.head = 0;
    this.tail = size;
  }

  consume(n: number): void {
    if (!(n >= 0 && n <= this.size)) assert(false, `consume ${n} of ${this.size} bytes`);
    this.head += n;
    if (this.head === this.tail) {
      this.head = 0;
      this.tail = 0;
      if (this.bytes.length > QUEUE_BYTES_KEEP_MAX) this.bytes = new Uint8Array(QUEUE_BYTES_INITIAL);
    }
  }

  clear(): void {
    this.consume(this.size);
  }

  at(i: number): number {
    return this.bytes[this.head + i] as number;
  }

  /**
   * Position of the first `byte` in [from, to), or -1. A plain loop: the lines searched are
   * mostly a few bytes long (`$3`), where making a subarray to call its indexOf costs more than
   * the search; a long stretch still goes to the native indexOf.
   */
  indexOf(byte: number, from: number, to: number): number {
    const bytes = this.bytes;
    const head = this.head;
    const loopEnd = Math.min(to, from + INDEX_OF_LOOP_BYTES);
    for (let i = from; i < loopEnd; i++) if (bytes[head + i] === byte) return i;
    if (loopEnd >= to) return -1;
    const at = bytes.subarray(head + loopEnd, head + to).indexOf(byte);
    return at < 0 ? -1 : loopEnd + at;
  }

  /** A copy of [from, to): it outlives the queue's buffer. */
  copy(from: number, to: number): Uint8Array {
    return this.bytes.slice(this.head + from, this.head + to);
  }

  /** [from, to) as `argOf` makes it from the backing buffer (which it must not keep). */
  take<A>(from: number, to: number, argOf: ArgOf<A>): A {
    return argOf(this.bytes, this.head + from, this.head + to);
  }

  /** A view of [from, to), valid only until the next push or consume. */
  view(from: number, to: number): Uint8Array {
    return this.bytes.subarray(this.head + from, this.head + to);
  }
}

/** `findLine` results besides a position. */
const NEED_MORE = -1;
const LINE_TOO_LONG = -2;

/**
 * Where the first `terminator` byte of the line at the queue's head is, searching at most
 * `lineBytesMax + 1` bytes and resuming after `scanned` bytes already searched. Returns the
 * position, NEED_MORE, or LINE_TOO_LONG once more than `lineBytesMax` bytes precede any terminator.
 * Because the limit is checked on positions, not on what happened to arrive, the answer does not
 * depend on how the stream was split.
 */
function findLine(queue: ByteQueue, terminator: number, scanned: number, lineBytesMax: number): number {
  const searchEnd = Math.min(queue.size, lineBytesMax + 1);
  const at = queue.indexOf(terminator, scanned, searchEnd);
  if (at >= 0) return at;
  return queue.size > lineBytesMax ? LINE_TOO_LONG : NEED_MORE;
}

/**
 * Redis's `string2ll` over queue bytes [from, to): optional `-`, then `0` alone or digits not
 * starting with 0, at most 20 characters, within int64. Returns null for anything else. Values
 * beyond 2^53 come back rounded, which keeps their sign and order — all the limits look at.
 */
function parseLongLong(queue: ByteQueue, from: number, to: number): number | null {
  const length = to - from;
  if (length <= 0 || length >= 21) return null;
  if (length === 1 && queue.at(from) === DIGIT_0) return 0;
  const negative = queue.at(from) === MINUS;
  const first = negative ? from + 1 : from;
  if (first === to) return null;
  const lead = queue.at(first);
  if (lead < DIGIT_0 + 1 || lead > DIGIT_9) return null;
  let value = 0;
  for (let i = first; i < to; i++) {
    const c = queue.at(i);
    if (c < DIGIT_0 || c > DIGIT_9) return null;
    value = value * 10 + (c - DIGIT_0);
  }
  const digits = to - first;
  if (digits > 19) return null;
  if (digits === 19) {
    // Compare with int64's bounds as digit strings of equal length.
    const text = String.fromCharCode(...queue.view(first, to));
    if (text > (negative ? "9223372036854775808" : "9223372036854775807")) return null;
  }
  return negative ? -value : value;
}

// ---------------------------------------------------------------------------------------------
// Request parser (server side)
// ---------------------------------------------------------------------------------------------

/** What a request may be; the defaults are redis-server's (see `multibulkArgsMax` for the one choice). */
export interface RequestLimits {
  /** Longest bulk argument (`proto-max-bulk-len`). */
  readonly bulkBytesMax: number;
  /**
   * Most arguments in one multibulk request. Redis 6 refused more than 1024*1024 and Redis 7
   * allows up to INT_MAX (2147483647); the default keeps the tighter bound, so one request line
   * cannot announce a billion arguments.
   */
  readonly multibulkArgsMax: number;
  /** Longest inline request line before its `\n` (PROTO_INLINE_MAX_SIZE). */
  readonly inlineBytesMax: number;
  /** Longest `*<count>` or `$<length>` line before its `\r` (also PROTO_INLINE_MAX_SIZE in Redis). */
  readonly lengthLineBytesMax: number;
}

export const REQUEST_LIMITS_DEFAULT: RequestLimits = {
  bulkBytesMax: 512 * 1024 * 1024,
  multibulkArgsMax: 1024 * 1024,
  inlineBytesMax: 64 * 1024,
  lengthLineBytesMax: 64 * 1024,
};

/**
 * Makes one argument out of bytes [start, end) of `bytes`, a buffer the parser reuses: the result
 * must not alias it. The default copies the bytes; a host can decode straight to what it hands
 * the node (a byte string), saving a copy per argument.
 */
export type ArgOf<A> = (bytes: Uint8Array, start: number, end: number) => A;

const copyArg: ArgOf<Uint8Array> = (bytes, start, end) => bytes.slice(start, end);

/** Before AUTH, Redis 7 allows requests this small only (so a stranger cannot make it buffer much). */
const UNAUTHENTICATED_ARGS_MAX = 10;
const UNAUTHENTICATED_BULK_BYTES_MAX = 16 * 1024;

/**
 * Parses what a client sends into commands, as redis-server 7 does (processInputBuffer,
 * processInlineBuffer, processMultibulkBuffer): a request starting with `*` is multibulk,
 * anything else is an inline line split with Redis's quoting rules (see `splitInlineArgs`).
 * Empty requests — a blank inline line, `*0`, `*-1` — are skipped.
 *
 * `feed` bytes as they arrive, then call `next` until it returns null. A protocol error is
 * terminal: `error` holds the text of the error reply (`ERR Protocol error: …`), `next` returns
 * null from then on and `feed` drops its input. The host replies with the error and closes the
 * connection, as Redis does. Commands before the error in the stream are still returned first,
 * because parsing only goes as far as `next` is called.
 *
 * As in Redis, line terminators are not checked byte by byte: a `*`/`$` line ends at its first
 * `\r` and the byte after it is skipped, an inline line ends at `\n` (minus a `\r` before it),
 * and the two bytes after a bulk argument are skipped.
 */
export class RequestParser<A = Uint8Array> {
  /**
   * Whether the client still has to authenticate. Redis 7 then refuses a multibulk request of
   * more than 10 arguments or an argument over 16 KB. The host sets it as AUTH succeeds or fails.
   */
  authRequired = false;

  private readonly limits: RequestLimits;
  private readonly queue = new ByteQueue();
  /** The error reply text once the stream broke the protocol. */
  private errorText: string | null = null;
  /** The form of the request being parsed, fixed by its first byte; "none" between requests. */
  private form: "none" | "inline" | "multibulk" = "none";
  /** Bytes at the head already searched for the current line's terminator, so a line trickling in is scanned once. */
  private scannedBytes = 0;
  /** Multibulk: arguments still to read; 0 while the `*<count>` line is not read yet. */
  private argsLeft = 0;
  /** Multibulk: length of the argument whose `$<length>` line was read; -1 when that line is next. */
  private bulkLength = -1;
  /** Multibulk: the arguments read so far. */
  private args: A[] = [];
  private readonly argOf: ArgOf<A>;

  /** `argOf` makes each argument (default: a copy of its bytes, which is what `A` then is). */
  constructor(limits: Partial<RequestLimits> = {}, argOf?: ArgOf<A>) {
    this.limits = { ...REQUEST_LIMITS_DEFAULT, ...limits };
    this.argOf = argOf ?? (copyArg as unknown as ArgOf<A>);
  }

  /** The error reply to send before closing, once the stream broke the protocol; null until then. */
  get error(): string | null {
    return this.errorText;
  }

  /** Bytes received and not yet parsed (a host can hold them to `client-query-buffer-limit`). */
  get bufferedBytes(): number {
    return this.queue.size;
  }

  feed(chunk: Uint8Array): void {
    if (this.errorText === null) this.queue.push(chunk);
  }

  /** The next complete command, or null when more bytes are needed or the stream broke the protocol. */
  next(): A[] | null {
    while (this.errorText === null && this.queue.size > 0) {
      if (this.form === "none") this.form = this.queue.at(0) === STAR ? "multibulk" : "inline";
      const args = this.form === "inline" ? this.parseInline() : this.parseMultibulk();
      if (args === null) return null;
      this.form = "none";
      if (args.length > 0) return args;
    }
    return null;
  }

  /** An inline request: one line, split into arguments. Null when incomplete or broken. */
  private parseInline(): A[] | null {
    const newline = findLine(this.queue, LF, this.scannedBytes, this.limits.inlineBytesMax);
    if (newline === LINE_TOO_LONG) return this.fail("too big inline request");
    if (newline === NEED_MORE) {
      this.scannedBytes = this.queue.size;
      return null;
    }
    const end = newline > 0 && this.queue.at(newline - 1) === CR ? newline - 1 : newline;
    const args = splitInlineArgs(this.queue.view(0, end));
    if (args === null) return this.fail("unbalanced quotes in request");
    this.consume(newline + 1);
    return args.map((a) => this.argOf(a, 0, a.length));
  }

  /** A multibulk request, resumed where the last call stopped. Null when incomplete or broken. */
  private parseMultibulk(): A[] | null {
    if (this.argsLeft === 0) {
      const cr = this.lengthLine("too big mbulk count string");
      if (cr < 0) return null;
      const count = parseLongLong(this.queue, 1, cr);
      if (count === null || count > this.limits.multibulkArgsMax) return this.fail("invalid multibulk length");
      if (count > UNAUTHENTICATED_ARGS_MAX && this.authRequired) return this.fail("unauthenticated multibulk length");
      this.consume(cr + 2);
      if (count <= 0) return [];
      this.argsLeft = count;
    }
    while (this.argsLeft > 0) {
      if (this.bulkLength < 0 && !this.readBulkLength()) return null;
      if (this.queue.size < this.bulkLength + 2) return null;
      this.args.push(this.queue.take(0, this.bulkLength, this.argOf));
      this.consume(this.bulkLength + 2);
      this.bulkLength = -1;
      this.argsLeft -= 1;
    }
    const args = this.args;
    this.args = [];
    return args;
  }

  /** Reads a `$<length>` line into `bulkLength`; false when incomplete or broken. */
  private readBulkLength(): boolean {
    const cr = this.lengthLine("too big bulk count string");
    if (cr < 0) return false;
    const first = this.queue.at(0);
    if (first !== DOLLAR) {
      // Redis formats the byte with %c and then blanks CR and LF in the error text.
      const shown = first === CR || first === LF ? " " : String.fromCharCode(first);
      this.fail(`expected '$', got '${shown}'`);
      return false;
    }
    const length = parseLongLong(this.queue, 1, cr);
    if (length === null || length < 0 || length > this.limits.bulkBytesMax) {
      this.fail("invalid bulk length");
      return false;
    }
    if (length > UNAUTHENTICATED_BULK_BYTES_MAX && this.authRequired) {
      this.fail("unauthenticated bulk length");
      return false;
    }
    this.consume(cr + 2);
    this.bulkLength = length;
    return true;
  }

  /**
   * The position of the `\r` ending the `*`/`$` line at the head, once a byte follows it (Redis
   * wants one more byte and skips it unchecked). Negative when incomplete or, after failing with
   * `tooLong`, when the line is longer than the limit.
   */
  private lengthLine(tooLong: string): number {
    const cr = findLine(this.queue, CR, this.scannedBytes, this.limits.lengthLineBytesMax);
    if (cr === LINE_TOO_LONG) {
      this.fail(tooLong);
      return LINE_TOO_LONG;
    }
    if (cr === NEED_MORE || cr + 1 >= this.queue.size) {
      this.scannedBytes = cr === NEED_MORE ? this.queue.size : cr;
      return NEED_MORE;
    }
    return cr;
  }

  private consume(n: number): void {
    this.queue.consume(n);
    this.scannedBytes = 0;
  }

  /** Enters the terminal error state: the reply text is Redis's, the buffered bytes are dropped. */
  private fail(what: string): null {
    this.errorText = `ERR Protocol error: ${what}`;
    this.queue.clear();
    this.args = [];
    return null;
  }
}

/** C's isspace in the "C" locale: space, \t, \n, \v, \f, \r. */
function isCSpace(c: number): boolean {
  return c === SPACE || (c >= 0x09 && c <= 0x0d);
}

function hexValue(c: number): number {
  if (c >= DIGIT_0 && c <= DIGIT_9) return c - DIGIT_0;
  if (c >= 0x61 && c <= 0x66) return c - 0x61 + 10;
  if (c >= 0x41 && c <= 0x46) return c - 0x41 + 10;
  return -1;
}

/** What a backslash escape inside double quotes stands for; any other character stands for itself. */
function unescape(c: number): number {
  switch (c) {
    case 0x6e: // n
      return LF;
    case 0x72: // r
      return CR;
    case 0x74: // t
      return 0x09;
    case 0x62: // b
      return 0x08;
    case 0x61: // a
      return 0x07;
    default:
      return c;
  }
}

/**
 * Splits an inline request line into arguments with Redis's rules (sds.c `sdssplitargs`), or
 * returns null for what Redis calls unbalanced quotes:
 * - arguments are separated by blanks; a token ends at space, \t, \r or \n (other C blanks, \v
 *   and \f, are skipped between tokens but belong to a token they appear in);
 * - `"…"` may contain \n \r \t \b \a, \xHH (two hex digits) and backslash-anything for that thing;
 * - `'…'` may contain \' only; every other byte, backslashes included, is literal;
 * - quotes may open in the middle of a token (`a"b c"` is `ab c`), but a closing quote must be
 *   followed by a blank or the end of the line; a quote never closed is an error too.
 */
export function splitInlineArgs(line: Uint8Array): Uint8Array[] | null {
  const args: Uint8Array[] = [];
  let p = 0;
  for (;;) {
    while (p < line.length && isCSpace(line[p] as number)) p++;
    if (p >= line.length) return args;
    const token: number[] = [];
    const end = readInlineToken(line, p, token);
    if (end < 0) return null;
    args.push(Uint8Array.from(token));
    p = end;
  }
}

/** Reads one token starting at `p` into `out`; returns the position after it, or -1 for unbalanced quotes. */
function readInlineToken(line: Uint8Array, start: number, out: number[]): number {
  /** The open quote character, or 0 outside quotes. */
  let quote = 0;
  let p = start;
  for (;;) {
    if (p >= line.length) return quote === 0 ? p : -1;
    const c = line[p] as number;
    if (quote === 0) {
      if (c === SPACE || c === LF || c === CR || c === 0x09) return p + 1;
      if (c === DQUOTE || c === SQUOTE) quote = c;
      else out.push(c);
      p += 1;
    } else if (c === quote) {
      // A closing quote must end the token.
      if (p + 1 < line.length && !isCSpace(line[p + 1] as number)) return -1;
      return p + 1;
    } else if (quote === DQUOTE && c === BACKSLASH && p + 3 < line.length && line[p + 1] === 0x78 && hexValue(line[p + 2] as number) >= 0 && hexValue(line[p + 3] as number) >= 0) {
      out.push(hexValue(line[p + 2] as number) * 16 + hexValue(line[p + 3] as number));
      p += 4;
    } else if (quote === DQUOTE && c === BACKSLASH && p + 1 < line.length) {
      out.push(unescape(line[p + 1] as number));
      p += 2;
    } else if (quote === SQUOTE && c === BACKSLASH && line[p + 1] === SQUOTE) {
      out.push(SQUOTE);
      p += 2;
    } else {
      out.push(c);
      p += 1;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Encoder
// ---------------------------------------------------------------------------------------------

const ASCII = (s: string): Uint8Array => Uint8Array.from(s, (ch) => ch.charCodeAt(0));
const CRLF_BYTES = ASCII("\r\n");
const NULL3_BYTES = ASCII("_\r\n");
const NULL_BULK_BYTES = ASCII("$-1\r\n");
const NULL_ARRAY_BYTES = ASCII("*-1\r\n");
const TRUE3_BYTES = ASCII("#t\r\n");
const FALSE3_BYTES = ASCII("#f\r\n");
const ONE_BYTES = ASCII(":1\r\n");
const ZERO_BYTES = ASCII(":0\r\n");

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * Encodes replies into one growable byte buffer: headers and numbers are written digit by digit,
 * text straight as UTF-8, so a reply of N values costs N small writes and no string building.
 * `take` hands the bytes over and keeps the buffer for the next replies.
 *
 * For a RESP2 client the RESP3 types degrade as redis-server does: map → flat array of keys and
 * values, set and push → array, double and big number → bulk string of their text, boolean →
 * integer 1/0, verbatim → bulk string without its format, null → `$-1` (or `*-1`), and an
 * attribute is dropped, leaving its value.
 */
export class RespWriter {
  private buf: Uint8Array;
  private length = 0;

  constructor(capacityBytes = 4096) {
    this.buf = new Uint8Array(Math.max(16, capacityBytes));
  }

  /** Bytes written and not yet taken. */
  get byteLength(): number {
    return this.length;
  }

  /**
   * The bytes written so far, as a view of the writer's buffer: valid until the next write or
   * `clear`. A host copies it into memory of its own (Node's pooled Buffers) and clears.
   */
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  clear(): void {
    this.length = 0;
  }

  /** The bytes written so far, copied out; the writer is empty afterwards. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.length);
    this.length = 0;
    return out;
  }

  write(value: RespValue, protocol: Protocol): this {
    switch (value.type) {
      case "simple":
        return this.line(PLUS, value.value);
      case "error":
        return this.line(MINUS, value.value);
      case "integer":
        return this.integer(value.value);
      case "bulk":
        return this.blob(DOLLAR, value.value);
      case "null":
        return this.bytes(protocol === 3 ? NULL3_BYTES : value.array === true ? NULL_ARRAY_BYTES : NULL_BULK_BYTES);
      case "array":
        return this.items(STAR, value.value, protocol);
      case "set":
        return this.items(protocol === 3 ? TILDE : STAR, value.value, protocol);
      case "push":
        return this.items(protocol === 3 ? GREATER : STAR, value.value, protocol);
      case "map":
        return this.pairs(PERCENT, value.value, protocol);
      case "double":
        return protocol === 3 ? this.asciiLine(COMMA, formatDouble(value.value)) : this.asciiBulk(formatDouble(value.value));
      case "boolean":
        if (protocol === 3) return this.bytes(value.value ? TRUE3_BYTES : FALSE3_BYTES);
        return this.bytes(value.value ? ONE_BYTES : ZERO_BYTES);
      case "bignum":
        return protocol === 3 ? this.asciiLine(OPEN_PAREN, value.value.toString()) : this.asciiBulk(value.value.toString());
      case "verbatim":
        return protocol === 3 ? this.verbatim(value.format, value.value) : this.blob(DOLLAR, value.value);
      case "attribute":
        if (protocol === 3) this.pairs(PIPE, value.attributes, protocol);
        return this.write(value.value, protocol);
      default:
        return assertNever(value, "RESP value");
    }
  }

  /** `*`-style aggregate: header, then the items. */
  private items(prefix: number, items: readonly RespValue[], protocol: Protocol): this {
    this.header(prefix, items.length);
    for (const item of items) this.write(item, protocol);
    return this;
  }

  /** `%` or `|` with its pairs; for RESP2 a map is an array of twice the length. */
  private pairs(prefix: number, pairs: readonly RespPair[], protocol: Protocol): this {
    if (protocol === 3) this.header(prefix, pairs.length);
    else this.header(STAR, pairs.length * 2);
    for (const [k, v] of pairs) this.write(k, protocol).write(v, protocol);
    return this;
  }

  private integer(value: number | bigint): this {
    if (typeof value === "bigint") {
      if (!(value >= INT64_MIN && value <= INT64_MAX)) assert(false, `integer reply ${value} is outside int64`);
      return this.asciiLine(COLON, value.toString());
    }
    if (!Number.isSafeInteger(value)) assert(false, `integer reply ${value} is not a safe integer (use a bigint)`);
    return this.header(COLON, value);
  }

  /** A line of text; CR and LF in it become spaces. */
  private line(prefix: number, text: string): this {
    this.ensure(utf8ByteLength(text) + 3);
    this.buf[this.length++] = prefix;
    this.length = writeUtf8(text, this.buf, this.length, true);
    return this.crlf();
  }

  /** A line of text known to be ASCII without CR or LF (numbers). */
  private asciiLine(prefix: number, text: string): this {
    this.ensure(text.length + 3);
    this.buf[this.length++] = prefix;
    for (let i = 0; i < text.length; i++) this.buf[this.length++] = text.charCodeAt(i);
    return this.crlf();
  }

  private asciiBulk(text: string): this {
    this.header(DOLLAR, text.length);
    this.ensure(text.length + 2);
    for (let i = 0; i < text.length; i++) this.buf[this.length++] = text.charCodeAt(i);
    return this.crlf();
  }

  private blob(prefix: number, data: Uint8Array): this {
    this.header(prefix, data.length);
    return this.bytes(data).crlf();
  }

  private verbatim(format: string, data: Uint8Array): this {
    assert(/^[\x21-\x39\x3b-\x7e]{3}$/.test(format), `verbatim format "${format}" is not three printable characters`);
    this.header(EQUALS, data.length + 4);
    this.ensure(4);
    for (let i = 0; i < 3; i++) this.buf[this.length++] = format.charCodeAt(i);
    this.buf[this.length++] = COLON;
    return this.bytes(data).crlf();
  }

  /** `<prefix><decimal n>\r\n`, n a safe integer. */
  private header(prefix: number, n: number): this {
    this.ensure(24);
    this.buf[this.length++] = prefix;
    let v = n;
    if (v < 0) {
      this.buf[this.length++] = MINUS;
      v = -v;
    }
    let digits = 1;
    for (let t = v; t >= 10; t = Math.floor(t / 10)) digits++;
    let at = this.length + digits;
    do {
      this.buf[--at] = DIGIT_0 + (v % 10);
      v = Math.floor(v / 10);
    } while (v > 0);
    this.length += digits;
    return this.crlf();
  }

  private crlf(): this {
    return this.bytes(CRLF_BYTES);
  }

  private bytes(data: Uint8Array): this {
    this.ensure(data.length);
    this.buf.set(data, this.length);
    this.length += data.length;
    return this;
  }

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const grown = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
    grown.set(this.buf.subarray(0, this.length));
    this.buf = grown;
  }
}

/** One reply's bytes. A host writing many replies should keep one `RespWriter` instead. */
export function encodeReply(value: RespValue, protocol: Protocol): Uint8Array {
  return new RespWriter().write(value, protocol).take();
}

/** A command as a client sends it: a multibulk array of bulk strings (text as UTF-8). */
export function encodeRequest(args: readonly (string | Uint8Array)[]): Uint8Array {
  return encodeReply(Resp.array(args.map((a) => Resp.bulk(a))), 2);
}

/** 2^62, the bound of Redis's `double2ll`: integral doubles within it print as integers. */
const DOUBLE_AS_INTEGER_MAX = 2 ** 62;

/**
 * A double as redis-server 7.2+ writes it (util.c `d2string`): `nan`, `inf`, `-inf`, `0`, `-0`;
 * an integral value up to 2^62 as its exact integer; anything else with the shortest digits that
 * read back as the same double, laid out as fpconv's `emit_digits` does: plain when the exponent
 * is small (`1.5`, `0.001`, `123456.789`), otherwise scientific with an unpadded exponent
 * (`1e+21`, `1.5e-7`).
 */
export function formatDouble(d: number): string {
  if (Number.isNaN(d)) return "nan";
  if (d === Infinity) return "inf";
  if (d === -Infinity) return "-inf";
  if (d === 0) return Object.is(d, -0) ? "-0" : "0";
  if (Number.isInteger(d) && Math.abs(d) <= DOUBLE_AS_INTEGER_MAX) return BigInt(d).toString();
  return (d < 0 ? "-" : "") + layOutDigits(Math.abs(d));
}

/** fpconv's layout of the shortest round-trip digits of a positive, finite, non-zero double. */
function layOutDigits(d: number): string {
  // toExponential() with no argument gives the shortest digits that round-trip: "1.2345e+2".
  const [mantissa = "", exponent = ""] = d.toExponential().split("e");
  const digits = mantissa.replace(".", "");
  const ndigits = digits.length;
  const pointExp = Number(exponent); // decimal exponent of the first digit
  const k = pointExp - (ndigits - 1); // decimal exponent of the last digit
  const expAbs = Math.abs(pointExp);
  if (k >= 0 && expAbs < ndigits + 7) return digits + "0".repeat(k);
  if (k < 0 && (k > -7 || expAbs < 4)) {
    const intDigits = ndigits + k;
    if (intDigits <= 0) return `0.${"0".repeat(-intDigits)}${digits}`;
    return `${digits.slice(0, intDigits)}.${digits.slice(intDigits)}`;
  }
  const fraction = ndigits > 1 ? `.${digits.slice(1)}` : "";
  return `${digits[0] ?? ""}${fraction}e${pointExp < 0 ? "-" : "+"}${expAbs}`;
}

/** Text as it arrives after encoding as a RESP line: CR/LF blanked, lone surrogates as U+FFFD. */
function asLineText(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === CR || c === LF) out += " ";
    else if (c >= 0xd800 && c <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      out += text.slice(i, i + 2);
      i++;
    } else if (c >= 0xd800 && c <= 0xdfff) out += "\ufffd";
    else out += text[i];
  }
  return out;
}

/** Integers as `ReplyParser` returns them: a number when safe, a bigint otherwise. */
function canonicalInteger(value: number | bigint): number | bigint {
  if (typeof value === "number") return value;
  return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/**
 * The value a client speaking `protocol` reads back from `encodeReply(value, protocol)`: the
 * RESP2 degradations spelled out as values, and the normal forms the parser returns (one RESP3
 * null, safe integers as numbers, line text as it went over the wire).
 */
export function asReceived(value: RespValue, protocol: Protocol): RespValue {
  const each = (items: readonly RespValue[]): RespValue[] => items.map((v) => asReceived(v, protocol));
  const eachPair = (pairs: readonly RespPair[]): RespPair[] => pairs.map(([k, v]) => [asReceived(k, protocol), asReceived(v, protocol)] as const);
  switch (value.type) {
    case "simple":
    case "error":
      return { type: value.type, value: asLineText(value.value) };
    case "integer":
      return { type: "integer", value: canonicalInteger(value.value) };
    case "bulk":
      return value;
    case "null":
      return protocol === 3 || value.array !== true ? { type: "null" } : { type: "null", array: true };
    case "array":
      return { type: "array", value: each(value.value) };
    case "set":
    case "push":
      return { type: protocol === 3 ? value.type : "array", value: each(value.value) };
    case "map":
      if (protocol === 3) return { type: "map", value: eachPair(value.value) };
      return { type: "array", value: eachPair(value.value).flat() };
    case "double":
      return protocol === 3 ? value : Resp.bulk(formatDouble(value.value));
    case "boolean":
      return protocol === 3 ? value : { type: "integer", value: value.value ? 1 : 0 };
    case "bignum":
      return protocol === 3 ? value : Resp.bulk(value.value.toString());
    case "verbatim":
      return protocol === 3 ? value : { type: "bulk", value: value.value };
    case "attribute":
      if (protocol === 2) return asReceived(value.value, protocol);
      return { type: "attribute", attributes: eachPair(value.attributes), value: asReceived(value.value, protocol) };
    default:
      return assertNever(value, "RESP value");
  }
}

// ---------------------------------------------------------------------------------------------
// Reply parser (client side)
// ---------------------------------------------------------------------------------------------

/** What a reply may be. */
export interface ReplyLimits {
  /** Longest bulk string, verbatim string or blob error. */
  readonly bulkBytesMax: number;
  /** Longest line (simple string, error, number, length header) before its `\r\n`. */
  readonly lineBytesMax: number;
  /** Most elements in one aggregate (pairs count twice). */
  readonly aggregateLengthMax: number;
  /** Deepest nesting of aggregates. */
  readonly depthMax: number;
}

export const REPLY_LIMITS_DEFAULT: ReplyLimits = {
  bulkBytesMax: 512 * 1024 * 1024,
  lineBytesMax: 512 * 1024 * 1024,
  aggregateLengthMax: 2 ** 31 - 1,
  depthMax: 1000,
};

/** An aggregate being read: its kind, how many elements it has, and those read so far. */
interface Frame {
  readonly kind: "array" | "set" | "push" | "map" | "attribute" | "attributed";
  readonly length: number;
  readonly items: RespValue[];
  /** For "attributed": the attributes read, waiting for the one value they belong to. */
  readonly attributes: readonly RespPair[];
}

/** `readItem` result: an aggregate header was read and its frame opened. */
const OPENED = Symbol("opened");

/**
 * Parses RESP2 and RESP3 replies. `feed` chunks, then call `next` until it returns null. It
 * accepts both versions at once (RESP2's `$-1`/`*-1` are nulls, `*-1` flagged `array`); streamed
 * RESP3 aggregates (`*?`), which Redis never sends, are a protocol error. A protocol error is
 * terminal: `error` says what was wrong, and the connection should be dropped.
 *
 * Aggregates are built on a stack of frames as their elements arrive, so a reply split into
 * many chunks is parsed once, never re-read from its start.
 */
export class ReplyParser {
  private readonly limits: ReplyLimits;
  private readonly queue = new ByteQueue();
  private errorText: string | null = null;
  /** Open aggregates, outermost first. */
  private readonly stack: Frame[] = [];
  /** Bytes at the head already searched for `\r`. */
  private scannedBytes = 0;
  /** A `$`, `=` or `!` whose header is read: its type byte and length. Its data is next. */
  private blob: { readonly type: number; readonly length: number } | null = null;

  constructor(limits: Partial<ReplyLimits> = {}) {
    this.limits = { ...REPLY_LIMITS_DEFAULT, ...limits };
  }

  /** What was wrong with the stream, once it broke the protocol; null until then. */
  get error(): string | null {
    return this.errorText;
  }

  feed(chunk: Uint8Array): void {
    if (this.errorText === null) this.queue.push(chunk);
  }

  /** The next complete reply, or null when more bytes are needed or the stream is broken. */
  next(): RespValue | null {
    while (this.errorText === null) {
      const item = this.readItem();
      if (item === null) return null;
      if (item === OPENED) continue;
      const done = this.deliver(item);
      if (done !== null) return done;
    }
    return null;
  }

  /** Adds a finished value to the innermost open aggregate, closing those it completes. Returns a finished top-level value. */
  private deliver(value: RespValue): RespValue | null {
    let v = value;
    for (;;) {
      const top = this.stack[this.stack.length - 1];
      if (top === undefined) return v;
      top.items.push(v);
      if (top.items.length < top.length) return null;
      this.stack.pop();
      if (top.kind === "attribute") {
        // The attributes are complete; the value they describe comes next.
        this.stack.push({ kind: "attributed", length: 1, items: [], attributes: toPairs(top.items) });
        return null;
      }
      v = closeFrame(top);
    }
  }

  /** Reads one scalar, one empty aggregate, or one aggregate header. Null when incomplete or broken. */
  private readItem(): RespValue | typeof OPENED | null {
    if (this.blob !== null) return this.readBlobData(this.blob);
    const cr = findLine(this.queue, CR, this.scannedBytes, this.limits.lineBytesMax);
    if (cr === LINE_TOO_LONG) return this.fail("line too long");
    if (cr === NEED_MORE || cr + 1 >= this.queue.size) {
      this.scannedBytes = cr === NEED_MORE ? this.queue.size : cr;
      return null;
    }
    if (this.queue.at(cr + 1) !== LF) return this.fail("expected \\n after \\r");
    const type = this.queue.at(0);
    const item = this.readLine(type, cr);
    if (this.errorText !== null) return null;
    this.consume(cr + 2);
    // A bulk header leaves its length in `blob`; the data may already be here.
    return item === null ? this.readPendingBlob() : item;
  }

  /** Interprets the line [0, cr) whose type byte is `type`. Sets `blob` for a bulk header. */
  private readLine(type: number, cr: number): RespValue | typeof OPENED | null {
    const text = (): string => decodeUtf8(this.queue.view(1, cr));
    switch (type) {
      case PLUS:
        return { type: "simple", value: text() };
      case MINUS:
        return { type: "error", value: text() };
      case COLON: {
        const value = parseInteger(text());
        return value === null ? this.fail("invalid integer") : { type: "integer", value };
      }
      case UNDERSCORE:
        return cr === 1 ? { type: "null" } : this.fail("invalid null");
      case COMMA: {
        const value = parseDouble(text());
        return value === null ? this.fail("invalid double") : { type: "double", value };
      }
      case HASH: {
        const t = text();
        return t === "t" || t === "f" ? { type: "boolean", value: t === "t" } : this.fail("invalid boolean");
      }
      case OPEN_PAREN: {
        const t = text();
        return /^[+-]?[0-9]+$/.test(t) ? { type: "bignum", value: BigInt(t) } : this.fail("invalid big number");
      }
      case DOLLAR:
      case EQUALS:
      case BANG:
        return this.readBlobHeader(type, text());
      case STAR:
      case TILDE:
      case PERCENT:
      case GREATER:
      case PIPE:
        return this.openAggregate(type, text());
      default:
        return this.fail(`got '${String.fromCharCode(type)}' as reply type byte`);
    }
  }

  private readBlobHeader(type: number, lengthText: string): RespValue | null {
    const length = parseLength(lengthText);
    if (length === -1 && type === DOLLAR) return { type: "null" };
    if (length === null || length < 0 || length > this.limits.bulkBytesMax) return this.fail("invalid bulk length");
    this.blob = { type, length };
    return null;
  }

  private readPendingBlob(): RespValue | null {
    return this.blob === null ? null : this.readBlobData(this.blob);
  }

  /** The data of a `$`, `=` or `!` whose header was read, once all of it and its `\r\n` are here. */
  private readBlobData({ type, length }: { readonly type: number; readonly length: number }): RespValue | null {
    if (this.queue.size < length + 2) return null;
    if (this.queue.at(length) !== CR || this.queue.at(length + 1) !== LF) return this.fail("bulk string not followed by \\r\\n");
    let value: RespValue;
    if (type === DOLLAR) value = { type: "bulk", value: this.queue.copy(0, length) };
    else if (type === BANG) value = { type: "error", value: decodeUtf8(this.queue.view(0, length)) };
    else {
      if (length < 4 || this.queue.at(3) !== COLON) return this.fail("invalid verbatim string");
      value = { type: "verbatim", format: decodeUtf8(this.queue.view(0, 3)), value: this.queue.copy(4, length) };
    }
    this.blob = null;
    this.consume(length + 2);
    return value;
  }

  /** An aggregate header: opens a frame, or returns the value itself when it is empty or null. */
  private openAggregate(type: number, countText: string): RespValue | typeof OPENED | null {
    const count = parseLength(countText);
    if (count === -1 && type === STAR) return { type: "null", array: true };
    if (count === null || count < 0) return this.fail("invalid aggregate length");
    const kind = type === STAR ? "array" : type === TILDE ? "set" : type === GREATER ? "push" : type === PERCENT ? "map" : "attribute";
    const length = kind === "map" || kind === "attribute" ? count * 2 : count;
    if (length > this.limits.aggregateLengthMax) return this.fail("aggregate too long");
    if (this.stack.length >= this.limits.depthMax) return this.fail("replies nested too deep");
    if (kind === "attribute") {
      this.stack.push({ kind: length === 0 ? "attributed" : "attribute", length: length === 0 ? 1 : length, items: [], attributes: [] });
      return OPENED;
    }
    const frame: Frame = { kind, length, items: [], attributes: [] };
    if (length === 0) return closeFrame(frame);
    this.stack.push(frame);
    return OPENED;
  }

  private consume(n: number): void {
    this.queue.consume(n);
    this.scannedBytes = 0;
  }

  private fail(what: string): null {
    this.errorText = `Protocol error: ${what}`;
    this.queue.clear();
    this.stack.length = 0;
    this.blob = null;
    return null;
  }
}

/** The value of a completed frame. */
function closeFrame(frame: Frame): RespValue {
  switch (frame.kind) {
    case "array":
    case "set":
    case "push":
      return { type: frame.kind, value: frame.items };
    case "map":
      return { type: "map", value: toPairs(frame.items) };
    case "attributed":
      return { type: "attribute", attributes: frame.attributes, value: frame.items[0] as RespValue };
    case "attribute":
      // deliver() turns a complete attribute frame into an "attributed" one instead.
      throw new Error("assertion failed: an attribute frame is never closed as a value");
    default:
      return assertNever(frame.kind, "frame kind");
  }
}

function toPairs(items: readonly RespValue[]): RespPair[] {
  const pairs: RespPair[] = [];
  for (let i = 0; i + 1 < items.length; i += 2) pairs.push([items[i] as RespValue, items[i + 1] as RespValue]);
  return pairs;
}

/** A length header: -1 or more, no sign but `-`, no blanks. */
function parseLength(text: string): number | null {
  if (!/^(-1|0|[1-9][0-9]{0,15})$/.test(text)) return null;
  return Number(text);
}

/** An integer reply: a number when safe, a bigint beyond that. */
function parseInteger(text: string): number | bigint | null {
  if (!/^[+-]?[0-9]{1,19}$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : BigInt(text);
}

/** A RESP3 double: a decimal or scientific number, or inf/-inf/nan in any case. */
function parseDouble(text: string): number | null {
  const lower = text.toLowerCase();
  if (lower === "inf" || lower === "+inf") return Infinity;
  if (lower === "-inf") return -Infinity;
  if (lower === "nan" || lower === "-nan") return NaN;
  if (!/^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(text)) return null;
  return Number(text);
}
