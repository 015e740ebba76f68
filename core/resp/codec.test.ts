import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  argsToStrings,
  asReceived,
  decodeUtf8,
  encodeReply,
  encodeRequest,
  encodeUtf8,
  formatDouble,
  type Protocol,
  ReplyParser,
  RequestParser,
  type RequestLimits,
  Resp,
  type RespValue,
  RespWriter,
  splitInlineArgs,
} from "./codec.js";

/** Bytes of a string whose characters are all below 256 (so "\xc3\xa9" is two bytes). */
const bytes = (s: string): Uint8Array => Uint8Array.from(s, (ch) => {
  const c = ch.charCodeAt(0);
  if (c > 0xff) throw new Error(`not a byte: ${ch}`);
  return c;
});
/** The inverse of `bytes`: one character per byte, for readable expectations on binary data. */
const latin1 = (b: Uint8Array): string => String.fromCharCode(...b);

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Splits `data` at the given positions (taken modulo its length + 1; empty chunks happen too). */
function chunked(data: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...cuts.map((c) => c % (data.length + 1)), data.length].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of points) {
    out.push(data.slice(from, p));
    from = p;
  }
  return out;
}

const byteAtATime = (data: Uint8Array): Uint8Array[] => Array.from(data, (b) => Uint8Array.of(b));

interface Parsed {
  readonly commands: string[][];
  readonly error: string | null;
}

/** Feeds the chunks in order, pulling commands after each; commands as latin1 strings. */
function parseRequests(chunks: readonly Uint8Array[], limits: Partial<RequestLimits> = {}, authRequired = false): Parsed {
  const parser = new RequestParser(limits);
  parser.authRequired = authRequired;
  const commands: string[][] = [];
  for (const chunk of chunks) {
    parser.feed(chunk);
    for (let cmd = parser.next(); cmd !== null; cmd = parser.next()) commands.push(cmd.map(latin1));
  }
  return { commands, error: parser.error };
}

const parseWhole = (input: string, limits: Partial<RequestLimits> = {}, authRequired = false): Parsed => parseRequests([bytes(input)], limits, authRequired);

function parseReplies(chunks: readonly Uint8Array[]): { values: RespValue[]; error: string | null } {
  const parser = new ReplyParser();
  const values: RespValue[] = [];
  for (const chunk of chunks) {
    parser.feed(chunk);
    for (let v = parser.next(); v !== null; v = parser.next()) values.push(v);
  }
  return { values, error: parser.error };
}

const K64 = 64 * 1024;

describe("RequestParser: multibulk requests", () => {
  it("parses a command into its arguments", () => {
    expect(parseWhole("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n")).toEqual({ commands: [["SET", "key", "value"]], error: null });
  });

  it("is binary safe: CR, LF, NUL and high bytes inside an argument are data", () => {
    expect(parseWhole("*2\r\n$4\r\nECHO\r\n$6\r\na\r\n\0\xff\xc3\r\n").commands).toEqual([["ECHO", "a\r\n\0\xff\xc3"]]);
  });

  it("accepts empty arguments", () => {
    expect(parseWhole("*2\r\n$3\r\nGET\r\n$0\r\n\r\n").commands).toEqual([["GET", ""]]);
  });

  it("returns pipelined commands in order, one per next()", () => {
    const parser = new RequestParser();
    parser.feed(concat([encodeRequest(["SET", "a", "1"]), encodeRequest(["GET", "a"]), bytes("PING\r\n")]));
    expect(argsToStrings(parser.next() ?? [])).toEqual(["SET", "a", "1"]);
    expect(argsToStrings(parser.next() ?? [])).toEqual(["GET", "a"]);
    expect(argsToStrings(parser.next() ?? [])).toEqual(["PING"]);
    expect(parser.next()).toBeNull();
    expect(parser.error).toBeNull();
  });

  it("parses a command fed one byte at a time", () => {
    expect(parseRequests(byteAtATime(encodeRequest(["SET", "k", "v"])))).toEqual({ commands: [["SET", "k", "v"]], error: null });
  });

  it("waits for the rest of an incomplete command and keeps what it has", () => {
    const parser = new RequestParser();
    parser.feed(bytes("*2\r\n$3\r\nGET\r\n$1\r"));
    expect(parser.next()).toBeNull();
    expect(parser.error).toBeNull();
    parser.feed(bytes("\nk\r"));
    expect(parser.next()).toBeNull();
    parser.feed(bytes("\n"));
    expect(argsToStrings(parser.next() ?? [])).toEqual(["GET", "k"]);
  });

  it.each(["*0\r\n", "*-1\r\n", "*-5\r\n", "*-9223372036854775808\r\n"])("skips the empty request %j, as Redis does", (empty) => {
    expect(parseWhole(`${empty}*1\r\n$4\r\nPING\r\n`)).toEqual({ commands: [["PING"]], error: null });
  });

  it("skips the byte after a line's \\r and the two bytes after an argument unchecked, as Redis does", () => {
    expect(parseWhole("*1\rX$4\r?PINGab").commands).toEqual([["PING"]]);
  });

  it("returns arguments that later input cannot change", () => {
    const parser = new RequestParser();
    parser.feed(encodeRequest(["SET", "key", "value"]));
    const args = parser.next() ?? [];
    for (let i = 0; i < 100; i++) parser.feed(encodeRequest(["XXX", "yyy", "zzzzz"]));
    while (parser.next() !== null);
    expect(argsToStrings(args)).toEqual(["SET", "key", "value"]);
  });

  it("parses a 3 MB argument arriving in 1000-byte chunks", () => {
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
    const data = encodeRequest(["SET", "k", big]);
    const parser = new RequestParser();
    let got: Uint8Array[] | null = null;
    for (let at = 0; at < data.length; at += 1000) {
      parser.feed(data.subarray(at, at + 1000));
      got = parser.next() ?? got;
    }
    // Compared with Buffer.equals: a deep toEqual over 3 M elements takes seconds.
    expect(got?.[2]?.length).toBe(big.length);
    expect(Buffer.from(got?.[2] ?? []).equals(big)).toBe(true);
    expect(parser.bufferedBytes).toBe(0);
  });

  it("counts the bytes it holds unparsed", () => {
    const parser = new RequestParser();
    parser.feed(bytes("*1\r\n$4\r\nPI"));
    expect(parser.bufferedBytes).toBe(10);
  });
});

describe("RequestParser: inline requests", () => {
  it.each([
    ["PING\r\n", [["PING"]]],
    ["PING\n", [["PING"]]],
    [" PING\t\r\n", [["PING"]]],
    ["SET a b\n", [["SET", "a", "b"]]],
    ["SET  a\t\tb  \r\n", [["SET", "a", "b"]]],
    ["a\rb\n", [["a", "b"]]],
    ["$3\r\nfoo\r\n", [["$3"], ["foo"]]],
    ["SET k \xc3\xa9\r\n", [["SET", "k", "\xc3\xa9"]]],
  ])("parses %j", (input, commands) => {
    expect(parseWhole(input)).toEqual({ commands, error: null });
  });

  it("skips empty and blank lines, as Redis does", () => {
    expect(parseWhole("\r\n\n   \r\n\t\nPING\r\n\n")).toEqual({ commands: [["PING"]], error: null });
  });

  it("waits for the newline", () => {
    expect(parseWhole("SET a b")).toEqual({ commands: [], error: null });
  });

  it("takes a line of exactly the inline limit", () => {
    expect(parseWhole(`${"x".repeat(K64)}\n`).commands).toEqual([["x".repeat(K64)]]);
  });
});

describe("splitInlineArgs: Redis's quoting rules", () => {
  const split = (line: string): string[] | null => splitInlineArgs(bytes(line))?.map(latin1) ?? null;

  it.each([
    ['SET k "a b"', ["SET", "k", "a b"]],
    ['"" x', ["", "x"]],
    ["''", [""]],
    ['"\\n\\r\\t\\b\\a\\\\\\""', ["\n\r\t\b\x07\\\""]],
    ['"\\x41\\x4a\\xff\\x00"', ["AJ\xff\0"]],
    ['"\\xZZ"', ["xZZ"]],
    ['"\\x4"', ["x4"]],
    ['"\\q"', ["q"]],
    ["'a\\'b'", ["a'b"]],
    ["'a\\nb\\c'", ["a\\nb\\c"]],
    ["'say \"hi\"'", ['say "hi"']],
    ['"it\'s"', ["it's"]],
    ['a"b c"', ["ab c"]],
    ["a'b c' d", ["ab c", "d"]],
    ['"a"\tb', ["a", "b"]],
    ['"a"\x0bb', ["a", "b"]],
    ["a\x0bb", ["a\x0bb"]],
    ["\x0b\x0ca", ["a"]],
    ["", []],
    ["   ", []],
  ])("splits %j", (line, args) => {
    expect(split(line)).toEqual(args);
  });

  it.each(['"a', "'a", '"a"x', "'a'x", '"a\\"', "'a\\'", '"a\\', 'x "'])("rejects %j as unbalanced quotes", (line) => {
    expect(split(line)).toBeNull();
  });
});

describe("RequestParser: protocol errors are Redis 7's, and terminal", () => {
  const small = { bulkBytesMax: 3 };
  const cases: [string, string, Partial<RequestLimits>, string][] = [
    ["a count that is not a number", "*abc\r\n", {}, "invalid multibulk length"],
    ["an empty count", "*\r\n", {}, "invalid multibulk length"],
    ["a count with a leading zero", "*01\r\n", {}, "invalid multibulk length"],
    ["a count with a plus sign", "*+1\r\n", {}, "invalid multibulk length"],
    ["a count with a blank", "* 1\r\n", {}, "invalid multibulk length"],
    ["a count past int64", "*9223372036854775808\r\n", {}, "invalid multibulk length"],
    ["a count of 21 characters", "*-0000000000000000001\r\n", {}, "invalid multibulk length"],
    ["a count over the limit", "*1048577\r\n", {}, "invalid multibulk length"],
    ["a count over a configured limit", "*3\r\n", { multibulkArgsMax: 2 }, "invalid multibulk length"],
    ["an argument not starting with $", "*1\r\nx\r\n", {}, "expected '$', got 'x'"],
    ["an argument line that is empty", "*1\r\n\r\n", {}, "expected '$', got ' '"],
    ["an argument line starting with LF", "*1\r\n\n\r\n", {}, "expected '$', got ' '"],
    ["a colon instead of $", "*1\r\n:5\r\n", {}, "expected '$', got ':'"],
    ["a negative bulk length", "*1\r\n$-1\r\n", {}, "invalid bulk length"],
    ["a bulk length that is not a number", "*1\r\n$abc\r\n", {}, "invalid bulk length"],
    ["a bulk length with a leading zero", "*1\r\n$01\r\n", {}, "invalid bulk length"],
    ["a bulk length past int64", "*1\r\n$18446744073709551616\r\n", {}, "invalid bulk length"],
    ["a bulk over proto-max-bulk-len (512 MB)", "*1\r\n$536870913\r\n", {}, "invalid bulk length"],
    ["a bulk over a configured limit", "*1\r\n$4\r\n", small, "invalid bulk length"],
    ["a count line of 64 KB + 1 byte", `*${"0".repeat(K64)}`, {}, "too big mbulk count string"],
    ["a bulk length line of 64 KB + 1 byte", `*1\r\n$${"0".repeat(K64)}`, {}, "too big bulk count string"],
    ["an inline line of 64 KB + 1 byte", "x".repeat(K64 + 1), {}, "too big inline request"],
    ["an inline line of 64 KB + CRLF (the CR counts)", `${"x".repeat(K64)}\r\n`, {}, "too big inline request"],
    ["an unclosed double quote", 'SET a "b\r\n', {}, "unbalanced quotes in request"],
    ["an unclosed single quote", "SET a 'b\n", {}, "unbalanced quotes in request"],
    ["a closing quote followed by a letter", 'SET "a"b c\n', {}, "unbalanced quotes in request"],
  ];

  it.each(cases)("%s", (_name, input, limits, error) => {
    expect(parseWhole(input, limits)).toEqual({ commands: [], error: `ERR Protocol error: ${error}` });
  });

  it.each(cases)("%s: same error when fed a byte at a time", (_name, input, limits, error) => {
    expect(parseRequests(byteAtATime(bytes(input)), limits).error).toBe(`ERR Protocol error: ${error}`);
  });

  it.each([
    ["a count line of exactly 64 KB", `*${"0".repeat(K64 - 1)}`],
    ["a bulk length line of exactly 64 KB", `*1\r\n$${"0".repeat(K64 - 1)}`],
    ["an inline line of exactly 64 KB", "x".repeat(K64)],
    ["a count line whose \\r has nothing after it yet", "*1\r"],
    ["an argument line without its \\r yet", "*1\r\nx"],
    ["a bulk of exactly 512 MB announced", "*1\r\n$536870912\r\n"],
    ["a count of 1024*1024", "*1048576\r\n"],
  ])("%s is not an error yet", (_name, input) => {
    expect(parseWhole(input)).toEqual({ commands: [], error: null });
  });

  it("a 64 KB count line that ends is parsed as a count (and is invalid)", () => {
    expect(parseWhole(`*${"0".repeat(K64 - 1)}\r\n`).error).toBe("ERR Protocol error: invalid multibulk length");
  });

  it("returns the commands before the error first, in order, then stops for good", () => {
    const parser = new RequestParser();
    parser.feed(concat([encodeRequest(["SET", "a", "1"]), bytes("PING\r\n*1\r\nx\r\n"), encodeRequest(["GET", "a"])]));
    expect(argsToStrings(parser.next() ?? [])).toEqual(["SET", "a", "1"]);
    expect(argsToStrings(parser.next() ?? [])).toEqual(["PING"]);
    expect(parser.error).toBeNull();
    expect(parser.next()).toBeNull();
    expect(parser.error).toBe("ERR Protocol error: expected '$', got 'x'");
    parser.feed(encodeRequest(["GET", "b"]));
    expect(parser.next()).toBeNull();
    expect(parser.bufferedBytes).toBe(0);
  });

  describe("before AUTH, Redis 7's smaller limits apply", () => {
    it("more than 10 arguments: unauthenticated multibulk length", () => {
      expect(parseWhole("*11\r\n", {}, true).error).toBe("ERR Protocol error: unauthenticated multibulk length");
      expect(parseWhole("*10\r\n", {}, true).error).toBeNull();
    });

    it("an argument over 16 KB: unauthenticated bulk length", () => {
      expect(parseWhole("*1\r\n$16385\r\n", {}, true).error).toBe("ERR Protocol error: unauthenticated bulk length");
      expect(parseWhole("*1\r\n$16384\r\n", {}, true).error).toBeNull();
    });

    it("the limits lift once the host clears authRequired", () => {
      expect(parseWhole("*11\r\n$16385\r\n", {}, false).error).toBeNull();
    });
  });
});

/** An inline token for `arg` in one of Redis's quoting styles, or null when that style cannot express it. */
function quoteInline(arg: Uint8Array, style: "plain" | "double" | "single"): string | null {
  const s = latin1(arg);
  if (style === "plain") return s !== "" && /^[^ \t\n\x0b\x0c\r"']+$/.test(s) ? s : null;
  if (style === "single") return s.includes("\n") || s.endsWith("\\") ? null : `'${s.replaceAll("'", "\\'")}'`;
  let out = '"';
  for (const b of arg) {
    if (b === 0x22 || b === 0x5c) out += `\\${String.fromCharCode(b)}`;
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return `${out}"`;
}

/** One request of a valid stream: its bytes and the command it must parse to (null for an empty line). */
const inlineRequestArb = fc
  .tuple(
    fc.constantFrom("PING", "GET", "SET", "ECHO"),
    fc.array(fc.tuple(fc.uint8Array({ maxLength: 12 }), fc.constantFrom("plain" as const, "double" as const, "single" as const)), { maxLength: 4 }),
    fc.constantFrom(" ", "\t", "  "),
    fc.constantFrom("\r\n", "\n"),
  )
  .map(([name, args, blank, eol]) => {
    const tokens = [name, ...args.map(([a, style]) => quoteInline(a, style) ?? (quoteInline(a, "double") as string))];
    return { data: bytes(tokens.join(blank) + eol), command: [name, ...args.map(([a]) => latin1(a))] as string[] | null };
  });
const multibulkRequestArb = fc.array(fc.uint8Array({ maxLength: 20 }), { minLength: 1, maxLength: 6 }).map((args) => ({ data: encodeRequest(args), command: args.map(latin1) as string[] | null }));
const emptyRequestArb = fc.constantFrom("\r\n", "\n", "  \t\n", "*0\r\n", "*-1\r\n").map((s) => ({ data: bytes(s), command: null as string[] | null }));
const requestStreamArb = fc.array(fc.oneof(multibulkRequestArb, inlineRequestArb, emptyRequestArb), { maxLength: 12 });
const cutsArb = fc.array(fc.nat(), { maxLength: 30 });

/** Bytes that are mostly protocol characters, so random streams reach deep into the parser. */
const protocolishBytesArb = fc.array(
  fc.oneof(
    { weight: 5, arbitrary: fc.constantFrom(..."*$0123456789-\r\n \"'\\xaZ\t".split("").map((c) => c.charCodeAt(0))) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) },
  ),
  { maxLength: 300 },
).map((a) => Uint8Array.from(a));
const smallLimits: Partial<RequestLimits> = { inlineBytesMax: 12, lengthLineBytesMax: 6, bulkBytesMax: 20, multibulkArgsMax: 5 };

describe("RequestParser: properties", () => {
  it("never throws on random bytes, fed whole or in chunks", () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 400 }), protocolishBytesArb), cutsArb, fc.boolean(), (data, cuts, small) => {
        const limits = small ? smallLimits : {};
        for (const chunks of [[data], chunked(data, cuts)]) {
          const { commands, error } = parseRequests(chunks, limits);
          for (const cmd of commands) expect(cmd.length).toBeGreaterThan(0);
          expect(error === null || error.startsWith("ERR Protocol error: ")).toBe(true);
        }
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  it("gives the same commands and the same error however any stream is split", () => {
    fc.assert(
      fc.property(protocolishBytesArb, cutsArb, fc.boolean(), (data, cuts, small) => {
        const limits = small ? smallLimits : {};
        const whole = parseRequests([data], limits);
        expect(parseRequests(chunked(data, cuts), limits)).toEqual(whole);
        expect(parseRequests(byteAtATime(data), limits)).toEqual(whole);
      }),
      { seed: 43, numRuns: 300 },
    );
  });

  it("decodes a valid stream of multibulk, inline and empty requests to its commands, however it is split", () => {
    fc.assert(
      fc.property(requestStreamArb, cutsArb, (requests, cuts) => {
        const data = concat(requests.map((r) => r.data));
        const expected = { commands: requests.flatMap((r) => (r.command === null ? [] : [r.command])), error: null };
        expect(parseRequests([data])).toEqual(expected);
        expect(parseRequests(chunked(data, cuts))).toEqual(expected);
        expect(parseRequests(byteAtATime(data))).toEqual(expected);
      }),
      { seed: 44, numRuns: 200 },
    );
  });
});

describe("encodeRequest and argsToStrings", () => {
  it("writes a command as an array of bulk strings, text as UTF-8", () => {
    expect(latin1(encodeRequest(["SET", "é", Uint8Array.of(0, 255)]))).toBe("*3\r\n$3\r\nSET\r\n$2\r\n\xc3\xa9\r\n$2\r\n\0\xff\r\n");
  });

  it("round-trips through the request parser", () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: "binary", maxLength: 10 }), { minLength: 1, maxLength: 5 }), (args) => {
        const parser = new RequestParser();
        parser.feed(encodeRequest(args));
        expect(argsToStrings(parser.next() ?? [])).toEqual(args);
      }),
      { seed: 45, numRuns: 200 },
    );
  });
});

describe("RespWriter: exact bytes for RESP2 and RESP3", () => {
  const bignum = 3492890328409238509324850943850943825024385n;
  const cases: [string, RespValue, string, string][] = [
    ["OK", Resp.ok, "+OK\r\n", "+OK\r\n"],
    ["an error", Resp.error("ERR unknown command"), "-ERR unknown command\r\n", "-ERR unknown command\r\n"],
    ["an error with CR/LF in it (blanked, as Redis does)", Resp.error("ERR a\r\nb"), "-ERR a  b\r\n", "-ERR a  b\r\n"],
    ["an integer", Resp.integer(42), ":42\r\n", ":42\r\n"],
    ["a negative integer", Resp.integer(-7), ":-7\r\n", ":-7\r\n"],
    ["int64 max as a bigint", Resp.integer(2n ** 63n - 1n), ":9223372036854775807\r\n", ":9223372036854775807\r\n"],
    ["a bulk string", Resp.bulk("hello"), "$5\r\nhello\r\n", "$5\r\nhello\r\n"],
    ["an empty bulk string", Resp.bulk(""), "$0\r\n\r\n", "$0\r\n\r\n"],
    ["a bulk string of UTF-8 text", Resp.bulk("é"), "$2\r\n\xc3\xa9\r\n", "$2\r\n\xc3\xa9\r\n"],
    ["a null bulk", Resp.null, "$-1\r\n", "_\r\n"],
    ["a null array", Resp.nullArray, "*-1\r\n", "_\r\n"],
    ["an empty array", Resp.array([]), "*0\r\n", "*0\r\n"],
    ["an array", Resp.array([Resp.integer(1), Resp.bulk("a")]), "*2\r\n:1\r\n$1\r\na\r\n", "*2\r\n:1\r\n$1\r\na\r\n"],
    ["nulls inside an array", Resp.array([Resp.null, Resp.nullArray]), "*2\r\n$-1\r\n*-1\r\n", "*2\r\n_\r\n_\r\n"],
    ["a map", Resp.map([[Resp.simple("a"), Resp.integer(1)]]), "*2\r\n+a\r\n:1\r\n", "%1\r\n+a\r\n:1\r\n"],
    [
      "a map of maps",
      Resp.map([[Resp.bulk("m"), Resp.map([[Resp.bulk("k"), Resp.bulk("v")]])]]),
      "*2\r\n$1\r\nm\r\n*2\r\n$1\r\nk\r\n$1\r\nv\r\n",
      "%1\r\n$1\r\nm\r\n%1\r\n$1\r\nk\r\n$1\r\nv\r\n",
    ],
    ["a set", Resp.set([Resp.bulk("x"), Resp.bulk("y")]), "*2\r\n$1\r\nx\r\n$1\r\ny\r\n", "~2\r\n$1\r\nx\r\n$1\r\ny\r\n"],
    ["a double", Resp.double(1.5), "$3\r\n1.5\r\n", ",1.5\r\n"],
    ["an integral double", Resp.double(3), "$1\r\n3\r\n", ",3\r\n"],
    ["inf", Resp.double(Infinity), "$3\r\ninf\r\n", ",inf\r\n"],
    ["-inf", Resp.double(-Infinity), "$4\r\n-inf\r\n", ",-inf\r\n"],
    ["nan", Resp.double(NaN), "$3\r\nnan\r\n", ",nan\r\n"],
    ["true", Resp.boolean(true), ":1\r\n", "#t\r\n"],
    ["false", Resp.boolean(false), ":0\r\n", "#f\r\n"],
    ["a big number", Resp.bignum(bignum), `$43\r\n${bignum}\r\n`, `(${bignum}\r\n`],
    ["a verbatim string", Resp.verbatim("txt", "Some string"), "$11\r\nSome string\r\n", "=15\r\ntxt:Some string\r\n"],
    [
      "a push",
      Resp.push([Resp.bulk("message"), Resp.bulk("ch"), Resp.bulk("hi")]),
      "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
      ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
    ],
    ["an attribute (dropped for RESP2)", Resp.attribute([[Resp.simple("ttl"), Resp.integer(3)]], Resp.integer(5)), ":5\r\n", "|1\r\n+ttl\r\n:3\r\n:5\r\n"],
  ];

  it.each(cases)("%s", (_name, value, resp2, resp3) => {
    expect(latin1(encodeReply(value, 2))).toBe(resp2);
    expect(latin1(encodeReply(value, 3))).toBe(resp3);
  });

  it("appends replies to one buffer, grows it, and hands the bytes over with take()", () => {
    const writer = new RespWriter(16);
    for (let i = 0; i < 1000; i++) writer.write(Resp.integer(i), 2);
    writer.write(Resp.bulk("x".repeat(5000)), 2);
    const out = latin1(writer.take());
    expect(out.startsWith(":0\r\n:1\r\n")).toBe(true);
    expect(out.endsWith(`$5000\r\n${"x".repeat(5000)}\r\n`)).toBe(true);
    expect(writer.byteLength).toBe(0);
    expect(latin1(writer.write(Resp.ok, 3).take())).toBe("+OK\r\n");
  });

  it("refuses programmer errors: an unsafe number, an integer outside int64, a bad verbatim format", () => {
    expect(() => encodeReply(Resp.integer(2 ** 60), 2)).toThrow(/safe integer/);
    expect(() => encodeReply(Resp.integer(2n ** 63n), 2)).toThrow(/int64/);
    expect(() => encodeReply(Resp.verbatim("text", "x"), 3)).toThrow(/verbatim format/);
  });
});

describe("formatDouble: Redis 7.2's d2string", () => {
  const table: [number, string][] = [
    [1.5, "1.5"],
    [0.1, "0.1"],
    [-2.5, "-2.5"],
    [3, "3"],
    [-3, "-3"],
    [0, "0"],
    [-0, "-0"],
    [100.25, "100.25"],
    [123456.789, "123456.789"],
    [0.0001, "0.0001"],
    [0.000001, "0.000001"],
    [1.5e-7, "1.5e-7"],
    [1.234e-5, "1.234e-5"],
    [1e15, "1000000000000000"],
    [2 ** 62, "4611686018427387904"],
    [2 ** 63, "9223372036854776000"],
    [1e19, "1e+19"],
    [1e21, "1e+21"],
    [1e100, "1e+100"],
    [1.7976931348623157e308, "1.7976931348623157e+308"],
    [5e-324, "5e-324"],
    [Infinity, "inf"],
    [-Infinity, "-inf"],
    [NaN, "nan"],
  ];

  it.each(table.map(([d, text]) => ({ d, text })))("writes $text", ({ d, text }) => {
    expect(formatDouble(d)).toBe(text);
  });

  it("reads back as the same double", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (d) => {
        expect(Object.is(Number(formatDouble(d)), d)).toBe(true);
      }),
      { seed: 46, numRuns: 1000 },
    );
  });
});

/** Any RESP value, nested up to a few levels; integers as the parser returns them or not. */
const scalarArb: fc.Arbitrary<RespValue> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 12 }).map(Resp.simple),
  fc.string({ maxLength: 12 }).map((s) => Resp.error(`ERR ${s}`)),
  fc.oneof(fc.maxSafeInteger(), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })).map(Resp.integer),
  fc.uint8Array({ maxLength: 20 }).map(Resp.bulk),
  fc.constantFrom(Resp.null, Resp.nullArray),
  fc.double().map(Resp.double),
  fc.boolean().map(Resp.boolean),
  fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }).map(Resp.bignum),
  fc.tuple(fc.constantFrom("txt", "mkd"), fc.uint8Array({ maxLength: 12 })).map(([format, data]) => Resp.verbatim(format, data)),
);
const respValueArb: fc.Arbitrary<RespValue> = fc.letrec<{ value: RespValue }>((tie) => {
  const list = fc.array(tie("value"), { maxLength: 4 });
  const pairs = fc.array(fc.tuple(tie("value"), tie("value")), { maxLength: 3 });
  return {
    value: fc.oneof(
      { maxDepth: 4, depthIdentifier: "resp" },
      scalarArb,
      list.map(Resp.array),
      list.map(Resp.set),
      list.map(Resp.push),
      pairs.map(Resp.map),
      fc.tuple(pairs, tie("value")).map(([attributes, value]) => Resp.attribute(attributes, value)),
    ),
  };
}).value;
const protocolArb = fc.constantFrom<Protocol>(2, 3);

/** Types a RESP2 client can never see. */
function hasResp3Type(value: RespValue): boolean {
  switch (value.type) {
    case "map":
    case "set":
    case "push":
    case "double":
    case "boolean":
    case "bignum":
    case "verbatim":
    case "attribute":
      return true;
    case "array":
      return value.value.some(hasResp3Type);
    default:
      return false;
  }
}

describe("ReplyParser", () => {
  it("parses every RESP3 type, nested", () => {
    const input =
      "*3\r\n%2\r\n+a\r\n,1.5\r\n$1\r\nb\r\n~2\r\n#t\r\n_\r\n>1\r\n(12345678901234567890\r\n" +
      "|1\r\n+ttl\r\n:3\r\n=7\r\nmkd:# x\r\n!9\r\nERR b\r\nad\r\n$-1\r\n*-1\r\n:-9007199254740993\r\n";
    const { values, error } = parseReplies([bytes(input)]);
    expect(error).toBeNull();
    expect(values).toEqual([
      Resp.array([
        Resp.map([
          [Resp.simple("a"), Resp.double(1.5)],
          [Resp.bulk("b"), Resp.set([Resp.boolean(true), Resp.null])],
        ]),
        Resp.push([Resp.bignum(12345678901234567890n)]),
        Resp.attribute([[Resp.simple("ttl"), Resp.integer(3)]], Resp.verbatim("mkd", "# x")),
      ]),
      Resp.error("ERR b\r\nad"),
      Resp.null,
      Resp.nullArray,
      Resp.integer(-9007199254740993n),
    ]);
  });

  it("decodes simple strings and errors as UTF-8", () => {
    expect(parseReplies([bytes("+\xc3\xa9\r\n-ERR \xff\r\n")]).values).toEqual([Resp.simple("é"), Resp.error("ERR \ufffd")]);
  });

  it("reads an attribute with no entries and an attribute inside an aggregate", () => {
    expect(parseReplies([bytes("|0\r\n:1\r\n*2\r\n|1\r\n+k\r\n+v\r\n:2\r\n:3\r\n")]).values).toEqual([
      Resp.attribute([], Resp.integer(1)),
      Resp.array([Resp.attribute([[Resp.simple("k"), Resp.simple("v")]], Resp.integer(2)), Resp.integer(3)]),
    ]);
  });

  it.each([
    ["an unknown type byte", "?x\r\n", "got '?' as reply type byte"],
    ["a line ending in CR alone", "+OK\rX", "expected \\n after \\r"],
    ["a bulk string without its CRLF", "$2\r\nabXY", "bulk string not followed by \\r\\n"],
    ["a negative bulk length other than -1", "$-2\r\n", "invalid bulk length"],
    ["a streamed aggregate (*?)", "*?\r\n", "invalid aggregate length"],
    ["a null map", "%-1\r\n", "invalid aggregate length"],
    ["an integer that is not one", ":1.5\r\n", "invalid integer"],
    ["a boolean that is not t or f", "#x\r\n", "invalid boolean"],
    ["a double that is not one", ",1.5.1\r\n", "invalid double"],
    ["a null with content", "_x\r\n", "invalid null"],
    ["a verbatim string without a format", "=2\r\nab\r\n", "invalid verbatim string"],
  ])("reports %s as a protocol error, and stops", (_name, input, error) => {
    const parser = new ReplyParser();
    parser.feed(bytes(`+before\r\n${input}`));
    expect(parser.next()).toEqual(Resp.simple("before"));
    expect(parser.next()).toBeNull();
    expect(parser.error).toBe(`Protocol error: ${error}`);
    parser.feed(bytes("+after\r\n"));
    expect(parser.next()).toBeNull();
  });

  it("holds replies to its limits", () => {
    const fed = (limits: ConstructorParameters<typeof ReplyParser>[0], input: string): string | null => {
      const parser = new ReplyParser(limits);
      parser.feed(bytes(input));
      parser.next();
      return parser.error;
    };
    expect(fed({ bulkBytesMax: 3 }, "$4\r\n")).toBe("Protocol error: invalid bulk length");
    expect(fed({ lineBytesMax: 4 }, "+abcd")).toBe("Protocol error: line too long");
    expect(fed({ lineBytesMax: 4 }, "+abc\r\n")).toBeNull();
    expect(fed({ aggregateLengthMax: 3 }, "%2\r\n")).toBe("Protocol error: aggregate too long");
    expect(fed({ depthMax: 2 }, "*1\r\n*1\r\n*1\r\n")).toBe("Protocol error: replies nested too deep");
  });

  it("never throws on random bytes, fed whole or in chunks", () => {
    const replyish = fc
      .array(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(..."*$%~>|=!(#,_:+-0123456789\r\ntf".split("").map((c) => c.charCodeAt(0))) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 255 }) }), { maxLength: 300 })
      .map((a) => Uint8Array.from(a));
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 300 }), replyish), cutsArb, (data, cuts) => {
        const whole = parseReplies([data]);
        expect(parseReplies(chunked(data, cuts))).toEqual(whole);
      }),
      { seed: 47, numRuns: 500 },
    );
  });
});

describe("encode then parse", () => {
  it("round-trips every value for RESP3, and gives the documented degradation for RESP2, however the bytes are split", () => {
    fc.assert(
      fc.property(fc.array(respValueArb, { minLength: 1, maxLength: 4 }), protocolArb, cutsArb, (values, protocol, cuts) => {
        const writer = new RespWriter();
        for (const v of values) writer.write(v, protocol);
        const data = writer.take();
        const expected = { values: values.map((v) => asReceived(v, protocol)), error: null };
        expect(parseReplies([data])).toEqual(expected);
        expect(parseReplies(chunked(data, cuts))).toEqual(expected);
      }),
      { seed: 48, numRuns: 300 },
    );
  });

  it("a byte at a time too", () => {
    fc.assert(
      fc.property(respValueArb, protocolArb, (value, protocol) => {
        expect(parseReplies(byteAtATime(encodeReply(value, protocol)))).toEqual({ values: [asReceived(value, protocol)], error: null });
      }),
      { seed: 49, numRuns: 200 },
    );
  });

  it("RESP3 values that need no normalising come back exactly", () => {
    const value = Resp.array([Resp.double(-0), Resp.double(NaN), Resp.integer(2n ** 62n), Resp.bignum(-5n), Resp.verbatim("txt", "a\r\nb")]);
    expect(parseReplies([encodeReply(value, 3)]).values).toEqual([value]);
  });

  it("a RESP2 client never sees a RESP3-only type", () => {
    fc.assert(
      fc.property(respValueArb, (value) => {
        expect(hasResp3Type(asReceived(value, 2))).toBe(false);
      }),
      { seed: 50, numRuns: 300 },
    );
  });

  it("re-encoding what was parsed gives the same bytes", () => {
    fc.assert(
      fc.property(respValueArb, protocolArb, (value, protocol) => {
        const data = encodeReply(value, protocol);
        expect(encodeReply(parseReplies([data]).values[0] as RespValue, protocol)).toEqual(data);
      }),
      { seed: 51, numRuns: 300 },
    );
  });
});

describe("UTF-8", () => {
  it("encodes as TextEncoder does, lone surrogates included", () => {
    const anyUnits = fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 20 });
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary", maxLength: 20 }), anyUnits), (s) => {
        expect(encodeUtf8(s)).toEqual(new TextEncoder().encode(s));
      }),
      { seed: 52, numRuns: 500 },
    );
  });

  it("decodes as TextDecoder does, malformed input included", () => {
    const utf8ish = fc.array(fc.oneof(fc.integer({ min: 0x80, max: 0xff }), fc.constantFrom(0x41, 0xc3, 0xa9, 0xe0, 0xed, 0xf0, 0xf4, 0x90, 0xbf)), { maxLength: 30 });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 30 }), utf8ish.map((a) => Uint8Array.from(a))), (b) => {
        expect(decodeUtf8(b)).toBe(new TextDecoder().decode(b));
      }),
      { seed: 53, numRuns: 1000 },
    );
  });

  it("round-trips well-formed text, long text too", () => {
    const long = "é€😀a".repeat(5000);
    expect(decodeUtf8(encodeUtf8(long))).toBe(long);
  });
});
