import { describe, expect, it } from "vitest";
import { parseLine, parseRecordFile, RecordFileError, type RecordFilePolicy, recordLine } from "./records.js";

class TestError extends RecordFileError {}
const APPENDED: RecordFilePolicy = { appended: true, remedy: "do this", error: TestError };
const REPLACED: RecordFilePolicy = { ...APPENDED, appended: false };

describe("record lines", () => {
  it("carry the CRC-32 of the JSON text and read back to the same record", () => {
    const r = { k: "step", value: "é\nv", n: [1, 2] };
    const line = recordLine(r);
    expect(line).toMatch(/^[0-9a-f]{8} \{.*\}\n$/);
    expect(line.split("\n")).toHaveLength(2); // a newline in a value is escaped: one line per record
    expect(parseLine(Buffer.from(line.slice(0, -1), "utf8"))).toEqual({ ok: true, record: r });
  });

  it("refuse a flipped bit, a missing checksum and checksummed non-JSON", () => {
    const line = Buffer.from(recordLine({ a: 1 }).slice(0, -1), "utf8");
    const flipped = Buffer.from(line);
    flipped[12] = (flipped[12] as number) ^ 0x01;
    expect(parseLine(flipped)).toEqual({ ok: false, why: "checksum mismatch" });
    expect(parseLine(Buffer.from('{"a":1}'))).toEqual({ ok: false, why: "not a checksummed record" });
    const notJson = Buffer.from(recordLine("x").slice(0, 9) + "x", "utf8");
    expect(parseLine(notJson).ok).toBe(false);
  });
});

describe("parseRecordFile", () => {
  const good = [recordLine({ n: 1 }), recordLine({ n: 2 }), recordLine({ n: 3 })].join("");

  it("reads a whole file", () => {
    expect(parseRecordFile(Buffer.from(good), "f", APPENDED)).toEqual({ records: [{ n: 1 }, { n: 2 }, { n: 3 }], validBytes: good.length, droppedBytes: 0, cutReason: null });
  });

  it("cuts a torn last record (no newline), even one whose checksum holds", () => {
    const torn = recordLine({ n: 4 }).slice(0, -1);
    const r = parseRecordFile(Buffer.from(good + torn), "f", APPENDED);
    expect(r.records).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(r.validBytes).toBe(good.length);
    expect(r.droppedBytes).toBe(torn.length);
    expect(r.cutReason).toBe(`torn last record (${torn.length} bytes without a newline)`);
  });

  it("cuts a damaged tail: a bad last line, or bad lines with only garbage after them", () => {
    const bad = recordLine({ n: 4 }).replace('"n"', '"m"');
    expect(parseRecordFile(Buffer.from(good + bad), "f", APPENDED)).toMatchObject({ records: [{ n: 1 }, { n: 2 }, { n: 3 }], droppedBytes: bad.length, cutReason: `damaged tail from line 4 (checksum mismatch; ${bad.length} bytes)` });
    const zeros = "\0".repeat(100) + "\n" + "\0".repeat(50);
    expect(parseRecordFile(Buffer.from(good + zeros), "f", APPENDED)).toMatchObject({ records: [{ n: 1 }, { n: 2 }, { n: 3 }], validBytes: good.length, droppedBytes: 151 });
  });

  it("refuses damage before a valid record, naming the file and both lines, with the host's error and remedy", () => {
    const lines = good.split("\n");
    lines[1] = (lines[1] as string).replace("2", "7");
    const damaged = Buffer.from(lines.join("\n"));
    expect(() => parseRecordFile(damaged, "/d/raft-log", APPENDED)).toThrow(TestError);
    expect(() => parseRecordFile(damaged, "/d/raft-log", APPENDED)).toThrow("/d/raft-log line 2 is damaged (checksum mismatch) but line 3 after it is a valid record");
    expect(() => parseRecordFile(damaged, "/d/raft-log", APPENDED)).toThrow(/Refusing to start on it; do this$/);
  });

  it("refuses any damage in a file that is only ever replaced whole", () => {
    expect(() => parseRecordFile(Buffer.from(good + "0000"), "/d/raft-snapshot", REPLACED)).toThrow("/d/raft-snapshot is damaged: torn last record");
    expect(() => parseRecordFile(Buffer.from(good + "garbage\n"), "/d/snap", REPLACED)).toThrow("/d/snap is damaged: damaged tail from line 4 (not a checksummed record; 8 bytes)");
    expect(() => parseRecordFile(Buffer.from("some other program's file\n"), "/d/nodes.conf", REPLACED)).toThrow("/d/nodes.conf line 1 is not a Faultline record (not a checksummed record): not a Faultline data file, or a damaged one; do this");
  });

  it("refuses a file in the format before checksums (plain JSON lines) rather than cutting it all away", () => {
    const old = '{"c":[["SET","k","v"]]}\n{"c":[["SET","k2","v"]]}\n';
    for (const policy of [APPENDED, REPLACED]) {
      expect(() => parseRecordFile(Buffer.from(old), "/d/aof-0-1023.0", policy)).toThrow(TestError);
      expect(() => parseRecordFile(Buffer.from(old), "/d/aof-0-1023.0", policy)).toThrow("/d/aof-0-1023.0 was written by an older Faultline (JSON lines without checksums), which this version does not read; do this");
    }
  });
});
