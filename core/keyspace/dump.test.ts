// DUMP / RESTORE / RESTORE-ASKING: the checksum, the payload format (golden bytes), round trips of
// every type (fixed edge cases and random values), refusal of every corrupted payload,
// restoreCommand's error texts and their order, option parsing, TTLs (relative, absolute, past)
// and what each outcome propagates.

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { COMMANDS } from "./commands.js";
import { crc64LittleEndian, u32LittleEndian } from "./crc64.js";
import { DUMP_FORMAT_VERSION, RESTORE_ERR, dumpPayload, loadPayload } from "./dump.js";
import type { Value } from "./db.js";
import { Keyspace, type Result } from "./keyspace.js";
import { type Plain, plain } from "./plain.js";
import { RESTORE_ERRORS } from "./test-support/command-cases.js";
import { shape } from "./test-support/shape.js";

const NOW = 1_700_000_000_000;
const OK: Plain = { simple: "OK" };
const err = (text: string): Plain => ({ err: text });
const CHECKSUM = err(RESTORE_ERR.versionOrChecksum);
const BAD_FORMAT = err(RESTORE_ERR.badFormat);

function hex(s: string): string {
  return [...s].map((c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join("");
}

/** A body with a correct footer for `version`: what a payload needs to pass the first check. */
function seal(body: string, version = DUMP_FORMAT_VERSION): string {
  const framed = body + String.fromCharCode(version & 0xff, version >>> 8);
  return framed + crc64LittleEndian(framed);
}

/** A string as the body writes it: u32 length, then its bytes. */
function lp(s: string): string {
  return u32LittleEndian(s.length) + s;
}

function exec(ks: Keyspace, args: readonly string[], nowMs = NOW): Result {
  return ks.exec(args, nowMs);
}

function reply(ks: Keyspace, args: readonly string[], nowMs = NOW): Plain {
  return plain(exec(ks, args, nowMs).reply);
}

/** The payload DUMP gives for key "k" after `setup`. */
function dumpOf(...setup: (readonly string[])[]): string {
  const ks = new Keyspace();
  for (const args of setup) exec(ks, args);
  return reply(ks, ["DUMP", "k"]) as string;
}

/** A value as plain, ordered data: lists, sets and hashes in their stored order. */

const PAYLOAD_AB = dumpOf(["SET", "k", "ab"]);

describe("CRC-64/Jones", () => {
  it("gives Redis's check value for 123456789, little-endian", () => {
    expect(hex(crc64LittleEndian("123456789"))).toBe("cad9b8c414d9c6e9"); // 0xe9c6d914c4b8d9ca
    expect(hex(crc64LittleEndian(""))).toBe("0000000000000000");
  });

  it("covers only the first `end` bytes when asked", () => {
    expect(crc64LittleEndian("123456789xyz", 9)).toBe(crc64LittleEndian("123456789"));
  });
});

describe("payload format", () => {
  it("is tag, length-prefixed body, version 0xFA01 and CRC-64 of all before, little-endian", () => {
    expect(hex(PAYLOAD_AB)).toBe("00" + "02000000" + "6162" + "01fa" + "237429475142c8cf");
  });

  it.each<[string, (readonly string[])[], string]>([
    ["list", [["RPUSH", "k", "a", ""]], "01" + "02000000" + "01000000" + "61" + "00000000"],
    ["set", [["SADD", "k", "x"]], "02" + "01000000" + "01000000" + "78"],
    ["hash", [["HSET", "k", "f", "v"]], "03" + "01000000" + "01000000" + "66" + "01000000" + "76"],
  ])("encodes a %s as count then elements", (_name, setup, body) => {
    const p = dumpOf(...setup);
    expect(hex(p.slice(0, -10))).toBe(body);
    expect(hex(p.slice(-10, -8))).toBe("01fa");
    expect(p.slice(-8)).toBe(crc64LittleEndian(p, p.length - 8));
  });
});

describe("DUMP → RESTORE round trips", () => {
  const BINARY = "\x00\xff\r\n\x80 \x7f";
  it.each<[string, (readonly string[])[], readonly string[]]>([
    ["an empty string", [["SET", "k", ""]], ["GET", "k"]],
    ["a binary string", [["SET", "k", BINARY]], ["GET", "k"]],
    ["an integer-looking string", [["SET", "k", "-12345678901234567890"]], ["GET", "k"]],
    ["a 100 KB string", [["SET", "k", "x".repeat(100_000)]], ["STRLEN", "k"]],
    ["a one-element list", [["RPUSH", "k", ""]], ["LRANGE", "k", "0", "-1"]],
    ["a list keeps its order and duplicates", [["RPUSH", "k", "b", "a", "b", BINARY]], ["LRANGE", "k", "0", "-1"]],
    ["a list after pushes at both ends", [["RPUSH", "k", "m"], ["LPUSH", "k", "l"], ["RPUSH", "k", "r"]], ["LRANGE", "k", "0", "-1"]],
    ["a set", [["SADD", "k", "", "a", BINARY, "123"]], ["SMEMBERS", "k"]],
    ["a hash with empty field and value", [["HSET", "k", "", "", "f", BINARY]], ["HGETALL", "k"]],
  ])("%s", (_name, setup, read) => {
    const source = new Keyspace();
    for (const args of setup) exec(source, args);
    const payload = reply(source, ["DUMP", "k"]) as string;
    const target = new Keyspace();
    expect(reply(target, ["RESTORE", "k", "0", payload])).toEqual(OK);
    expect(reply(target, read)).toEqual(reply(source, read));
    expect(reply(target, ["TYPE", "k"])).toEqual(reply(source, ["TYPE", "k"]));
    expect(reply(target, ["DUMP", "k"])).toBe(payload);
    expect(reply(target, ["PTTL", "k"])).toBe(-1);
  });

  it("DUMP of a missing key is nil, changes nothing and propagates nothing", () => {
    const r = exec(new Keyspace(), ["DUMP", "nope"]);
    expect(plain(r.reply)).toBeNull();
    expect([r.dirty, r.propagate, r.touched]).toEqual([0, [], []]);
  });

  it("DUMP applies lazy expiry", () => {
    const ks = new Keyspace();
    exec(ks, ["SET", "k", "v", "PX", "10"]);
    const r = exec(ks, ["DUMP", "k"], NOW + 11);
    expect(plain(r.reply)).toBeNull();
    expect(r.propagate).toEqual([["DEL", "k"]]);
  });

  it("the restored value is a copy: changing it leaves the source alone", () => {
    const ks = new Keyspace();
    exec(ks, ["RPUSH", "a", "1", "2"]);
    const p = reply(ks, ["DUMP", "a"]) as string;
    exec(ks, ["RESTORE", "b", "0", p]);
    exec(ks, ["RPUSH", "b", "3"]);
    expect(reply(ks, ["LRANGE", "a", "0", "-1"])).toEqual(["1", "2"]);
  });
});

const byteString = (maxLength: number): fc.Arbitrary<string> => fc.array(fc.integer({ min: 0, max: 255 }), { maxLength }).map((codes) => String.fromCharCode(...codes));

/** A command that builds a random value of each type at key "k". */
const buildCommand: fc.Arbitrary<string[]> = fc.oneof(
  byteString(64).map((v) => ["SET", "k", v]),
  fc.array(byteString(16), { minLength: 1, maxLength: 20 }).map((items) => ["RPUSH", "k", ...items]),
  fc.array(byteString(16), { minLength: 1, maxLength: 20 }).map((members) => ["SADD", "k", ...members]),
  fc.array(fc.tuple(byteString(16), byteString(16)), { minLength: 1, maxLength: 20 }).map((pairs) => ["HSET", "k", ...pairs.flat()]),
);

describe("properties", () => {
  it("any value of any type round-trips through DUMP and RESTORE, order included", () => {
    fc.assert(
      fc.property(buildCommand, (build) => {
        const source = new Keyspace();
        exec(source, build);
        const payload = reply(source, ["DUMP", "k"]) as string;
        const target = new Keyspace();
        expect(reply(target, ["RESTORE", "k", "0", payload])).toEqual(OK);
        expect(shape(target.inspect("k")?.value)).toEqual(shape(source.inspect("k")?.value));
      }),
      { seed: 64, numRuns: 300 },
    );
  });

  it("any single changed byte of a payload is refused with the version/checksum error", () => {
    fc.assert(
      fc.property(buildCommand, fc.nat(), fc.integer({ min: 1, max: 255 }), (build, at, mask) => {
        const source = new Keyspace();
        exec(source, build);
        const payload = reply(source, ["DUMP", "k"]) as string;
        const i = at % payload.length;
        const corrupt = payload.slice(0, i) + String.fromCharCode(payload.charCodeAt(i) ^ mask) + payload.slice(i + 1);
        expect(reply(new Keyspace(), ["RESTORE", "k", "0", corrupt])).toEqual(CHECKSUM);
      }),
      { seed: 65, numRuns: 500 },
    );
  });

  it("every single-bit flip of a small payload is refused (exhaustive)", () => {
    for (let i = 0; i < PAYLOAD_AB.length; i++) {
      for (let bit = 0; bit < 8; bit++) {
        const corrupt = PAYLOAD_AB.slice(0, i) + String.fromCharCode(PAYLOAD_AB.charCodeAt(i) ^ (1 << bit)) + PAYLOAD_AB.slice(i + 1);
        expect(loadPayload(corrupt)).toEqual({ ok: false, problem: "version-or-checksum" });
      }
    }
  });

  it("truncating or extending a payload is refused", () => {
    for (let n = 0; n < PAYLOAD_AB.length; n++) expect(loadPayload(PAYLOAD_AB.slice(0, n))).toEqual({ ok: false, problem: "version-or-checksum" });
    expect(loadPayload(PAYLOAD_AB + "\x00")).toEqual({ ok: false, problem: "version-or-checksum" });
  });
});

describe("payloads that check out but do not parse", () => {
  it.each<[string, string]>([
    ["an empty body", ""],
    ["an unknown type tag", "\x09" + lp("x")],
    ["a string whose length runs past the body", "\x00" + u32LittleEndian(3) + "ab"],
    ["a string with a short length field", "\x00\x02\x00"],
    ["a string with trailing bytes", "\x00" + lp("ab") + "!"],
    ["an empty list", "\x01" + u32LittleEndian(0)],
    ["a list with fewer elements than its count", "\x01" + u32LittleEndian(2) + lp("a")],
    ["a list whose count could never fit", "\x01" + u32LittleEndian(0xffffffff) + lp("a")],
    ["a list with trailing bytes", "\x01" + u32LittleEndian(1) + lp("a") + "\x00"],
    ["an empty set", "\x02" + u32LittleEndian(0)],
    ["a set with a repeated member", "\x02" + u32LittleEndian(2) + lp("a") + lp("a")],
    ["an empty hash", "\x03" + u32LittleEndian(0)],
    ["a hash with a repeated field", "\x03" + u32LittleEndian(2) + lp("f") + lp("1") + lp("f") + lp("2")],
    ["a hash field without a value", "\x03" + u32LittleEndian(1) + lp("f")],
  ])("%s is Bad data format", (_name, body) => {
    const ks = new Keyspace();
    const r = exec(ks, ["RESTORE", "k", "0", seal(body)]);
    expect(plain(r.reply)).toEqual(BAD_FORMAT);
    expect([r.dirty, r.propagate, ks.size]).toEqual([0, [], 0]);
  });

  it("a well-formed body under another version is the version/checksum error", () => {
    expect(reply(new Keyspace(), ["RESTORE", "k", "0", seal("\x00" + lp("v"), 10)])).toEqual(CHECKSUM); // Redis 7.0's RDB version
    expect(reply(new Keyspace(), ["RESTORE", "k", "0", seal("\x00" + lp("v"), DUMP_FORMAT_VERSION + 1)])).toEqual(CHECKSUM);
    expect(reply(new Keyspace(), ["RESTORE", "k", "0", seal("\x00" + lp("v"))])).toEqual(OK);
  });

  it("fewer than 10 bytes is the version/checksum error, as in verifyDumpPayload", () => {
    expect(reply(new Keyspace(), ["RESTORE", "k", "0", ""])).toEqual(CHECKSUM);
    expect(reply(new Keyspace(), ["RESTORE", "k", "0", "\x01\xfa" + "\x00".repeat(7)])).toEqual(CHECKSUM);
  });

  it("a payload from a real Redis 7 is refused, not misread", () => {
    // DUMP of SET foo bar on redis-server 7.0: RDB string "bar", RDB version 10, CRC-64.
    const redis = "\x00\x03bar\x0a\x00" + crc64LittleEndian("\x00\x03bar\x0a\x00");
    expect(reply(new Keyspace(), ["RESTORE", "k", "0", redis])).toEqual(CHECKSUM);
  });

  it("dumpPayload and loadPayload are inverse on values built directly, strings named like a refusal included", () => {
    const values: Value[] = [{ kind: "hash", fields: new Map([["a", "1"], ["", "\x00"]]) }, "", "format", "version-or-checksum"];
    for (const value of values) {
      const loaded = loadPayload(dumpPayload(value));
      expect(loaded.ok ? shape(loaded.value) : loaded).toEqual(shape(value));
    }
  });
});

describe("RESTORE errors", () => {
  // Each case: setup, the command (P stands for a valid payload), the exact reply.
  it.each(RESTORE_ERRORS)("%s", (_name, setup, cmd, expected) => {
    const ks = new Keyspace();
    for (const args of setup) exec(ks, args);
    const r = exec(ks, cmd.map((a) => (a === "P" ? PAYLOAD_AB : a)));
    expect(plain(r.reply)).toEqual(expected);
    expect([r.dirty, r.propagate]).toEqual([0, []]);
  });
});

describe("RESTORE options and TTLs", () => {
  it.each<[string, readonly string[]]>([
    ["REPLACE", ["REPLACE"]],
    ["lower-case options", ["replace", "absttl"]],
    ["IDLETIME 0", ["IDLETIME", "0"]],
    ["IDLETIME twice", ["IDLETIME", "5", "IDLETIME", "9"]],
    ["FREQ 0 and 255", ["FREQ", "0", "FREQ", "255"]],
    ["every option", ["REPLACE", "ABSTTL", "IDLETIME", "100"]],
    ["ABSTTL with ttl 0", ["ABSTTL"]],
  ])("accepts %s", (_name, options) => {
    const ks = new Keyspace();
    expect(reply(ks, ["RESTORE", "k", "0", PAYLOAD_AB, ...options])).toEqual(OK);
    expect(reply(ks, ["GET", "k"])).toBe("ab");
    expect(reply(ks, ["PTTL", "k"])).toBe(-1);
  });

  it("ttl 0: no TTL, propagated as received", () => {
    const ks = new Keyspace();
    const r = exec(ks, ["RESTORE", "k", "0", PAYLOAD_AB]);
    expect([r.dirty, r.propagate, r.touched]).toEqual([1, [["RESTORE", "k", "0", PAYLOAD_AB]], ["k"]]);
  });

  it("a relative ttl is added to now and propagated as absolute with ABSTTL appended", () => {
    const ks = new Keyspace();
    const r = exec(ks, ["RESTORE", "k", "5000", PAYLOAD_AB, "IDLETIME", "3"]);
    expect(reply(ks, ["PTTL", "k"])).toBe(5000);
    expect(reply(ks, ["PEXPIRETIME", "k"])).toBe(NOW + 5000);
    expect(r.propagate).toEqual([["RESTORE", "k", String(NOW + 5000), PAYLOAD_AB, "IDLETIME", "3", "ABSTTL"]]);
    expect(ks.expiresCount).toBe(1);
  });

  it("ABSTTL in the future: that expiry time, propagated as received", () => {
    const ks = new Keyspace();
    const cmd = ["RESTORE", "k", String(NOW + 1), PAYLOAD_AB, "ABSTTL"];
    const r = exec(ks, cmd);
    expect(reply(ks, ["PEXPIRETIME", "k"])).toBe(NOW + 1);
    expect(r.propagate).toEqual([cmd]);
    expect(reply(ks, ["GET", "k"], NOW + 1)).toBe("ab");
    expect(reply(ks, ["GET", "k"], NOW + 2)).toBeNull();
  });

  it.each<[string, readonly string[]]>([
    ["ABSTTL now", [String(NOW), PAYLOAD_AB, "ABSTTL"]],
    ["ABSTTL in the past", ["1", PAYLOAD_AB, "ABSTTL"]],
    ["a relative ttl that overflows int64 (C wraps it negative)", ["9223372036854775807", PAYLOAD_AB]],
  ])("%s: OK, nothing created, nothing propagated", (_name, rest) => {
    const ks = new Keyspace();
    const r = exec(ks, ["RESTORE", "k", ...rest]);
    expect(plain(r.reply)).toEqual(OK);
    expect([r.dirty, r.propagate, ks.size]).toEqual([0, [], 0]);
  });

  it("REPLACE with a refused payload leaves the old key alone", () => {
    const ks = new Keyspace();
    exec(ks, ["SET", "k", "old", "PX", "100"]);
    expect(reply(ks, ["RESTORE", "k", "0", "garbage", "REPLACE"])).toEqual(CHECKSUM);
    expect(reply(ks, ["RESTORE", "k", "0", seal("\x07"), "REPLACE"])).toEqual(BAD_FORMAT);
    expect([reply(ks, ["GET", "k"]), reply(ks, ["PTTL", "k"])]).toEqual(["old", 100]);
  });

  it("a past time with REPLACE deletes the old key and propagates DEL", () => {
    const ks = new Keyspace();
    exec(ks, ["RPUSH", "k", "x"]);
    const r = exec(ks, ["RESTORE", "k", "1", PAYLOAD_AB, "ABSTTL", "REPLACE"]);
    expect(plain(r.reply)).toEqual(OK);
    expect([r.dirty, r.propagate, r.touched, ks.size]).toEqual([1, [["DEL", "k"]], ["k"], 0]);
  });

  it("REPLACE over another type drops its TTL for the restored one", () => {
    const ks = new Keyspace();
    exec(ks, ["SADD", "k", "m"]);
    exec(ks, ["PEXPIRE", "k", "100"]);
    const r = exec(ks, ["RESTORE", "k", "0", PAYLOAD_AB, "REPLACE"]);
    expect([plain(r.reply), r.dirty]).toEqual([OK, 1]);
    expect(reply(ks, ["TYPE", "k"])).toEqual({ simple: "string" });
    expect(reply(ks, ["PTTL", "k"])).toBe(-1);
    expect(ks.expiresCount).toBe(0);
  });

  it("REPLACE removes an expired key without counting an expiry (dbDelete)", () => {
    const ks = new Keyspace();
    exec(ks, ["SET", "k", "v", "PX", "10"]);
    const r = exec(ks, ["RESTORE", "k", "0", PAYLOAD_AB, "REPLACE"], NOW + 50);
    expect(r.propagate).toEqual([["RESTORE", "k", "0", PAYLOAD_AB, "REPLACE"]]);
    expect(ks.expiredKeys).toBe(0);
  });

  it("an expired key is no BUSYKEY: lazy expiry removes it and propagates DEL first", () => {
    const ks = new Keyspace();
    exec(ks, ["SET", "k", "v", "PX", "10"]);
    const r = exec(ks, ["RESTORE", "k", "0", PAYLOAD_AB], NOW + 11);
    expect(plain(r.reply)).toEqual(OK);
    expect(r.propagate).toEqual([["DEL", "k"], ["RESTORE", "k", "0", PAYLOAD_AB]]);
    expect(ks.expiredKeys).toBe(1);
  });

  it("RESTORE-ASKING restores like RESTORE and propagates under its own name", () => {
    const ks = new Keyspace();
    const r = exec(ks, ["RESTORE-ASKING", "k", "100", PAYLOAD_AB]);
    expect(reply(ks, ["GET", "k"])).toBe("ab");
    expect(r.propagate).toEqual([["RESTORE-ASKING", "k", String(NOW + 100), PAYLOAD_AB, "ABSTTL"]]);
  });

  it("a replica replaying the propagated command gets the same expiry time, later", () => {
    const master = new Keyspace();
    const replica = new Keyspace();
    const [cmd] = exec(master, ["RESTORE", "k", "5000", PAYLOAD_AB]).propagate;
    exec(replica, cmd as readonly string[], NOW + 3000);
    expect(reply(replica, ["PEXPIRETIME", "k"], NOW + 3000)).toBe(NOW + 5000);
  });
});

describe("command table rows", () => {
  it("match redis-server 7.0's COMMAND INFO (arity, flags we model, key positions)", () => {
    expect(COMMANDS.get("dump")).toEqual({ name: "dump", arity: 2, flags: ["readonly"], firstKey: 1, lastKey: 1, step: 1 });
    expect(COMMANDS.get("restore")).toEqual({ name: "restore", arity: -4, flags: ["write", "denyoom"], firstKey: 1, lastKey: 1, step: 1 });
    expect(COMMANDS.get("restore-asking")).toEqual({ name: "restore-asking", arity: -4, flags: ["write", "denyoom"], firstKey: 1, lastKey: 1, step: 1 });
  });
});
