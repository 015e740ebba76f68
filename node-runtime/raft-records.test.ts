import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PersistId } from "../core/machine.js";
import { recover } from "../core/raft/storage.js";
import type { Json } from "../core/trace.js";
import { Disk } from "./disk.js";
import { RaftDiskError, recoverRaftDir } from "./raft-records.js";
import { recordLine } from "./records.js";

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

  it("refuses damage in the middle of raft-log and any damage in raft-snapshot, as RaftDiskError with the Raft remedy", () => {
    const log = join(dir, "raft-log");
    writeFileSync(log, recordLine(step(1, 1, 1)).replace('"n1"', '"n2"') + recordLine(step(1, 2, 1)));
    expect(() => recoverRaftDir(dir)).toThrow(RaftDiskError);
    expect(() => recoverRaftDir(dir)).toThrow(`${log} line 1 is damaged (checksum mismatch) but line 2 after it is a valid record`);
    expect(() => recoverRaftDir(dir)).toThrow("remove this member's --dir and add it back as a new member");
    writeFileSync(log, recordLine(step(1, 1, 1)));
    const snapshot = join(dir, "raft-snapshot");
    writeFileSync(snapshot, recordLine({ index: 1 }) + "0000");
    expect(() => recoverRaftDir(dir)).toThrow(RaftDiskError);
    expect(() => recoverRaftDir(dir)).toThrow(`${snapshot} is damaged: torn last record (4 bytes without a newline)`);
    expect(readFileSync(snapshot, "utf8")).toBe(recordLine({ index: 1 }) + "0000"); // refused, not repaired
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
