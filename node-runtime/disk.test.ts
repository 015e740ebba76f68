import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PersistId } from "../core/machine.js";
import { isAppendedFile } from "../core/cluster/aof.js";
import type { Json } from "../core/trace.js";
import { Disk, recover, RecoveryError } from "./disk.js";
import { recordLine } from "./records.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "faultline-disk-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const appended = isAppendedFile;
/** A file's bytes as checksummed lines, one per record. */
const lines = (...records: Json[]): string => records.map(recordLine).join("");
const set = (key: string, value: string): Json => ({ c: [["SET", key, value]] });

describe("recover", () => {
  it("gives null for a directory with no files, as a fresh disk", () => {
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "nodes.conf.tmp"), "{half");
    expect(recover(dir, new Set(), appended)).toEqual({ recovered: null, reports: [] });
  });

  it("reads every file's checksummed lines; temp files and ignored names are skipped", () => {
    writeFileSync(join(dir, "nodes.conf"), lines({ name: "a" }));
    writeFileSync(join(dir, "aof-0-1023.0"), lines([1], "two", 3));
    writeFileSync(join(dir, "nodes.conf.tmp"), lines({ name: "newer, never renamed" }));
    writeFileSync(join(dir, "node.log"), "not json at all\n");
    const r = recover(dir, new Set(["node.log"]), appended);
    expect(r.recovered).toEqual({
      files: {
        "aof-0-1023.0": { records: [[1], "two", 3], tornTail: false },
        "nodes.conf": { records: [{ name: "a" }], tornTail: false },
      },
    });
    expect(r.reports).toEqual([
      { file: "aof-0-1023.0", records: 3, droppedBytes: 0, cutReason: null },
      { file: "nodes.conf", records: 1, droppedBytes: 0, cutReason: null },
    ]);
  });

  it("cuts a torn AOF tail and truncates it on disk, so the next append and the start after it are clean", async () => {
    const aof = join(dir, "aof-0-1023.0");
    let d = new Disk(dir, () => {}, (req, e) => expect.fail(`${req.id}: ${String(e)}`));
    d.submit({ id: 1, file: "aof-0-1023.0", op: "append", record: set("a", "1"), sync: true });
    d.submit({ id: 2, file: "aof-0-1023.0", op: "append", record: set("b", "2"), sync: true });
    await d.close();
    // A crash mid-append: part of a record, without its newline (even one that would parse is cut).
    const torn = recordLine(set("c", "3")).slice(0, -1);
    appendFileSync(aof, torn);
    const first = recover(dir, new Set(), appended);
    expect(first.recovered?.files["aof-0-1023.0"]).toEqual({ records: [set("a", "1"), set("b", "2")], tornTail: true });
    expect(first.reports).toEqual([{ file: "aof-0-1023.0", records: 2, droppedBytes: torn.length, cutReason: `torn last record (${torn.length} bytes without a newline)` }]);
    expect(readFileSync(aof, "utf8")).toBe(lines(set("a", "1"), set("b", "2")));
    // The restarted node appends: its record follows the last good one, not the torn bytes.
    d = new Disk(dir, () => {}, (req, e) => expect.fail(`${req.id}: ${String(e)}`));
    d.submit({ id: 3, file: "aof-0-1023.0", op: "append", record: set("d", "4"), sync: true });
    await d.close();
    const second = recover(dir, new Set(), appended);
    expect(second.recovered?.files["aof-0-1023.0"]).toEqual({ records: [set("a", "1"), set("b", "2"), set("d", "4")], tornTail: false });
    expect(second.reports[0]?.droppedBytes).toBe(0);
  });

  it("cuts a damaged AOF tail (a garbage line, zeros) with everything after it, and says why", () => {
    const aof = join(dir, "aof-1024-2047.3");
    const tail = "\0".repeat(64) + "\n" + "garbage\n" + "\0".repeat(10);
    writeFileSync(aof, lines(set("a", "1")) + tail);
    const r = recover(dir, new Set(), appended);
    expect(r.recovered?.files["aof-1024-2047.3"]).toEqual({ records: [set("a", "1")], tornTail: true });
    expect(r.reports).toEqual([{ file: "aof-1024-2047.3", records: 1, droppedBytes: tail.length, cutReason: `damaged tail from line 2 (not a checksummed record; ${tail.length} bytes)` }]);
    expect(readFileSync(aof, "utf8")).toBe(lines(set("a", "1")));
  });

  it("catches a flipped byte inside valid JSON: not taken as data in an AOF's last line, refused in nodes.conf", () => {
    const aof = join(dir, "aof-0-1023.0");
    const flipped = recordLine(set("b", "2")).replace('"2"', '"3"');
    expect(JSON.parse(flipped.slice(9))).toEqual(set("b", "3")); // still valid JSON
    writeFileSync(aof, lines(set("a", "1")) + flipped);
    const r = recover(dir, new Set(), appended);
    expect(r.recovered?.files["aof-0-1023.0"]?.records).toEqual([set("a", "1")]);
    expect(r.reports[0]?.cutReason).toBe(`damaged tail from line 2 (checksum mismatch; ${flipped.length} bytes)`);
    const conf = join(dir, "nodes.conf");
    writeFileSync(conf, recordLine({ currentEpoch: 5 }).replace("5", "9"));
    expect(() => recover(dir, new Set(), appended)).toThrow(RecoveryError);
    expect(() => recover(dir, new Set(), appended)).toThrow(`${conf} line 1 is not a Faultline record (checksum mismatch)`);
  });

  it("refuses damage in the middle of an AOF, naming the file and line and what to do, and leaves the file alone", () => {
    const aof = join(dir, "aof-0-1023.2");
    const text = lines(set("a", "1")) + recordLine(set("b", "2")).replace("SET", "SEX") + lines(set("c", "3"));
    writeFileSync(aof, text);
    expect(() => recover(dir, new Set(), appended)).toThrow(RecoveryError);
    expect(() => recover(dir, new Set(), appended)).toThrow(
      `${aof} line 2 is damaged (checksum mismatch) but line 3 after it is a valid record: the file is corrupt before its end, which no crash causes. ` +
        "Refusing to start on it; move the file out of --dir to start without it",
    );
    expect(readFileSync(aof, "utf8")).toBe(text);
  });

  it("refuses any damage in a file that is only ever replaced whole (nodes.conf, snap-*), leaving it alone", () => {
    const snap = join(dir, "snap-0-1023");
    writeFileSync(snap, lines({ gen: 1, entries: [] }) + "\0\0\0\0");
    expect(() => recover(dir, new Set(), appended)).toThrow(RecoveryError);
    expect(() => recover(dir, new Set(), appended)).toThrow(`${snap} is damaged: torn last record (4 bytes without a newline). It is replaced whole and never torn, so this is not a crash mid-write;`);
    expect(readFileSync(snap, "utf8")).toBe(lines({ gen: 1, entries: [] }) + "\0\0\0\0");
    rmSync(snap);
    const conf = join(dir, "nodes.conf");
    writeFileSync(conf, lines({ name: "a" }) + "garbage\n");
    expect(() => recover(dir, new Set(), appended)).toThrow(`${conf} is damaged: damaged tail from line 2 (not a checksummed record; 8 bytes)`);
  });

  it("refuses a file that is not ours (a redis-server nodes.conf), and one written by an older Faultline", () => {
    const conf = join(dir, "nodes.conf");
    writeFileSync(conf, "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460\nvars currentEpoch 6 lastVoteEpoch 0\n");
    expect(() => recover(dir, new Set(), appended)).toThrow(RecoveryError);
    expect(() => recover(dir, new Set(), appended)).toThrow(`${conf} line 1 is not a Faultline record (not a checksummed record): not a Faultline data file, or a damaged one;`);
    rmSync(conf);
    const aof = join(dir, "aof-0-1023.0");
    writeFileSync(aof, '{"c":[["SET","a","1"]]}\n{"c":[["SET","b","2"]]}\n');
    expect(() => recover(dir, new Set(), appended)).toThrow(`${aof} was written by an older Faultline (JSON lines without checksums), which this version does not read;`);
  });
});

describe("Disk", () => {
  function disk(): { d: Disk; done: PersistId[]; errors: string[] } {
    const done: PersistId[] = [];
    const errors: string[] = [];
    const d = new Disk(dir, (id) => done.push(id), (req, e) => errors.push(`${req.id}: ${String(e)}`));
    return { d, done, errors };
  }

  it("replaces a file whole with write and appends lines with append, completing in order", async () => {
    const { d, done, errors } = disk();
    d.submit({ id: 1, file: "nodes.conf", op: "write", record: { v: 1 }, sync: true });
    d.submit({ id: 2, file: "log", op: "append", record: "a", sync: false });
    d.submit({ id: 3, file: "nodes.conf", op: "write", record: { v: 2 }, sync: true });
    d.submit({ id: 4, file: "log", op: "append", record: ["b", 2], sync: true });
    expect(d.pending).toBe(4);
    await d.drain();
    expect(done).toEqual([1, 2, 3, 4]);
    expect(errors).toEqual([]);
    expect(d.pending).toBe(0);
    expect(readFileSync(join(dir, "nodes.conf"), "utf8")).toBe(lines({ v: 2 }));
    expect(readFileSync(join(dir, "log"), "utf8")).toBe(lines("a", ["b", 2]));
    expect(readdirSync(dir).sort()).toEqual(["log", "nodes.conf"]);
    await d.close();
    expect(recover(dir, new Set(), appended).recovered?.files["nodes.conf"]?.records).toEqual([{ v: 2 }]);
  });

  it("writes a persist with notify: false like any other but does not report it", async () => {
    const { d, done } = disk();
    d.submit({ id: 1, file: "log", op: "append", record: "a", sync: false, notify: false });
    d.submit({ id: 2, file: "log", op: "append", record: "b", sync: true });
    await d.drain();
    expect(done).toEqual([2]);
    expect(d.pending).toBe(0);
    expect(readFileSync(join(dir, "log"), "utf8")).toBe(lines("a", "b"));
    await d.close();
  });

  it("a write after appends to the same file replaces it, and later appends go to the new file", async () => {
    const { d } = disk();
    d.submit({ id: 1, file: "f", op: "append", record: 1, sync: false });
    d.submit({ id: 2, file: "f", op: "write", record: 2, sync: true });
    d.submit({ id: 3, file: "f", op: "append", record: 3, sync: false });
    await d.close();
    expect(readFileSync(join(dir, "f"), "utf8")).toBe(lines(2, 3));
  });

  it("groups the appends of one turn (and those arriving while busy) yet completes each in order, files apart", async () => {
    const { d, done, errors } = disk();
    const ids: number[] = [];
    for (let i = 1; i <= 200; i++) {
      ids.push(i);
      if (i === 100) d.submit({ id: i, file: "f", op: "write", record: "reset", sync: true });
      else d.submit({ id: i, file: i % 3 === 0 ? "g" : "f", op: "append", record: i, sync: i % 50 === 0 });
    }
    // Completions come as the disk gets through them; more arrive meanwhile and join later groups.
    await new Promise((r) => setImmediate(r));
    for (let i = 201; i <= 210; i++) {
      ids.push(i);
      d.submit({ id: i, file: "f", op: "append", record: i, sync: false });
    }
    await d.drain();
    expect(errors).toEqual([]);
    expect(done).toEqual(ids);
    // Each line's JSON text, past its checksum.
    const jsonOf = (file: string) => readFileSync(join(dir, file), "utf8").trimEnd().split("\n").map((l) => l.slice(9));
    const expectedF = ['"reset"', ...ids.filter((i) => i > 100 && (i > 200 || i % 3 !== 0)).map(String)];
    expect(jsonOf("f")).toEqual(expectedF);
    expect(jsonOf("g")).toEqual(ids.filter((i) => i % 3 === 0 && i <= 200).map(String));
    await d.close();
  });

  it("reports a failed write and never completes it", async () => {
    const { d, done, errors } = disk();
    rmSync(dir, { recursive: true });
    d.submit({ id: 1, file: "nodes.conf", op: "write", record: {}, sync: true });
    await d.drain();
    expect(done).toEqual([]);
    expect(errors.length).toBe(1);
    expect(errors[0]).toMatch(/^1: Error: ENOENT/);
    expect(d.pending).toBe(0);
  });
});
