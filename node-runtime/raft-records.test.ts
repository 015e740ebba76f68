import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PersistId } from "../core/machine.js";
import { recover } from "../core/raft/storage.js";
import type { Json } from "../core/trace.js";
import { Disk } from "./disk.js";
import { parseLine, parseRecordFile, RaftDiskError, recordLine, recoverRaftDir } from "./raft-records.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "faultline-raft-records-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const step = (term: number, from: number, n: number): Json => ({
  k: "step",
  term,
  votedFor: "n1",
  log: { from, prevTerm: from === 1 ? 0 : term, entries: Array.from({ length: n }, (_, i) => ({ term, kind: "command", command: { op: "put", key: `k${from + i}`, value: "é\nv" } })) },
});

describe("record lines", () => {
  it("carry the CRC-32 of the JSON text and read back to the same record", () => {
    const r = step(3, 1, 2);
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
    expect(parseRecordFile(Buffer.from(good), "f", true)).toEqual({ records: [{ n: 1 }, { n: 2 }, { n: 3 }], validBytes: good.length, droppedBytes: 0, cutReason: null });
  });

  it("cuts a torn last record (no newline), even one whose checksum holds", () => {
    const torn = recordLine({ n: 4 }).slice(0, -1);
    const r = parseRecordFile(Buffer.from(good + torn), "f", true);
    expect(r.records).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(r.validBytes).toBe(good.length);
    expect(r.droppedBytes).toBe(torn.length);
    expect(r.cutReason).toBe(`torn last record (${torn.length} bytes without a newline)`);
  });

  it("cuts a damaged tail: a bad last line, or bad lines with only garbage after them", () => {
    const bad = recordLine({ n: 4 }).replace('"n"', '"m"');
    expect(parseRecordFile(Buffer.from(good + bad), "f", true)).toMatchObject({ records: [{ n: 1 }, { n: 2 }, { n: 3 }], droppedBytes: bad.length, cutReason: `damaged tail from line 4 (checksum mismatch; ${bad.length} bytes)` });
    const zeros = "\0".repeat(100) + "\n" + "\0".repeat(50);
    expect(parseRecordFile(Buffer.from(good + zeros), "f", true)).toMatchObject({ records: [{ n: 1 }, { n: 2 }, { n: 3 }], validBytes: good.length, droppedBytes: 151 });
  });

  it("refuses damage before a valid record, naming the file and both lines", () => {
    const lines = good.split("\n");
    lines[1] = (lines[1] as string).replace("2", "7");
    expect(() => parseRecordFile(Buffer.from(lines.join("\n")), "/d/raft-log", true)).toThrow(RaftDiskError);
    expect(() => parseRecordFile(Buffer.from(lines.join("\n")), "/d/raft-log", true)).toThrow("/d/raft-log line 2 is damaged (checksum mismatch) but line 3 after it is a valid record");
  });

  it("refuses any damage in a file that is only ever replaced whole", () => {
    expect(() => parseRecordFile(Buffer.from(good + "0000"), "/d/raft-snapshot", false)).toThrow("/d/raft-snapshot is damaged: torn last record");
  });
});

describe("recoverRaftDir", () => {
  it("is null for a fresh directory, and ignores other files", () => {
    writeFileSync(join(dir, "n1.log"), "not ours\n");
    writeFileSync(join(dir, "raft-log.tmp"), "half a compaction");
    expect(recoverRaftDir(dir)).toEqual({ recovered: null, reports: [] });
  });

  it("truncates a cut tail on disk, so later appends follow the last good record", () => {
    const path = join(dir, "raft-log");
    writeFileSync(path, recordLine(step(1, 1, 1)) + '00000000 {"k":"step"}\n' + "0badc0de {");
    const first = recoverRaftDir(dir);
    expect(first.recovered?.files["raft-log"]).toEqual({ records: [step(1, 1, 1)], tornTail: true });
    expect(first.reports).toEqual([{ file: "raft-log", records: 1, droppedBytes: 32, cutReason: "damaged tail from line 2 (checksum mismatch; 32 bytes)" }]);
    expect(readFileSync(path, "utf8")).toBe(recordLine(step(1, 1, 1)));
    writeFileSync(path, recordLine(step(1, 2, 1)), { flag: "a" });
    expect(recoverRaftDir(dir).recovered?.files["raft-log"]).toEqual({ records: [step(1, 1, 1), step(1, 2, 1)], tornTail: false });
  });

  it("reads back what Disk wrote with recordLine — appends, a snapshot, a compacted rewrite — as Raft's recover expects", async () => {
    const done: PersistId[] = [];
    const errors: string[] = [];
    const disk = new Disk(dir, (id) => done.push(id), (req, e) => errors.push(`${req.id}: ${String(e)}`), recordLine);
    disk.submit({ id: 0, file: "raft-log", op: "append", record: step(1, 1, 3), sync: true });
    disk.submit({ id: 1, file: "raft-log", op: "append", record: step(2, 4, 2), sync: true });
    disk.submit({ id: 2, file: "raft-snapshot", op: "write", record: { index: 3, term: 1, membership: { voters: ["n1"], learners: [] }, state: { x: 1 } }, sync: true });
    await disk.drain();
    const mid = recover(recoverRaftDir(dir).recovered);
    expect([mid.term, mid.log.lastIndex, mid.snapshot?.index]).toEqual([2, 5, 3]);
    disk.submit({ id: 3, file: "raft-log", op: "write", record: { k: "compacted", term: 2, votedFor: "n1", baseIndex: 3, baseTerm: 1, entries: mid.log.slice(4, 5) as unknown as Json }, sync: true });
    disk.submit({ id: 4, file: "raft-log", op: "append", record: { k: "step", term: 3, votedFor: null, log: null }, sync: true });
    await disk.close();
    expect(done).toEqual([0, 1, 2, 3, 4]);
    expect(errors).toEqual([]);
    expect(existsSync(join(dir, "raft-log.tmp"))).toBe(false);
    const end = recover(recoverRaftDir(dir).recovered);
    expect([end.term, end.votedFor, end.log.baseIndex, end.log.lastIndex, end.tornTail]).toEqual([3, null, 3, 5, false]);
  });
});
