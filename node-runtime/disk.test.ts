import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { PersistId } from "../core/machine.js";
import { Disk, parseRecords, recover, RecoveryError } from "./disk.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "faultline-disk-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("recover", () => {
  it("gives null for a directory with no files, as a fresh disk", () => {
    mkdirSync(join(dir, "sub"));
    writeFileSync(join(dir, "nodes.conf.tmp"), "{half");
    expect(recover(dir, new Set())).toEqual({ recovered: null, reports: [] });
  });

  it("reads every file as JSON lines; temp files and ignored names are skipped", () => {
    writeFileSync(join(dir, "nodes.conf"), '{"name":"a"}\n');
    writeFileSync(join(dir, "log.aof"), '[1]\n"two"\n3\n');
    writeFileSync(join(dir, "nodes.conf.tmp"), '{"name":"newer, never renamed"}\n');
    writeFileSync(join(dir, "node.log"), "not json at all\n");
    const r = recover(dir, new Set(["node.log"]));
    expect(r.recovered).toEqual({
      files: {
        "log.aof": { records: [[1], "two", 3], tornTail: false },
        "nodes.conf": { records: [{ name: "a" }], tornTail: false },
      },
    });
    expect(r.reports).toEqual([
      { file: "log.aof", records: 3, droppedBytes: 0 },
      { file: "nodes.conf", records: 1, droppedBytes: 0 },
    ]);
  });

  it("cuts an unterminated last line and says how many bytes it dropped", () => {
    writeFileSync(join(dir, "log.aof"), '{"a":1}\n{"b":2}\n{"c":');
    const r = recover(dir, new Set());
    expect(r.recovered?.files["log.aof"]).toEqual({ records: [{ a: 1 }, { b: 2 }], tornTail: true });
    expect(r.reports).toEqual([{ file: "log.aof", records: 2, droppedBytes: 5 }]);
    // Even a tail that happens to be valid JSON is cut: without its newline the append did not finish.
    expect(parseRecords(Buffer.from('1\n2'), "x")).toEqual({ file: { records: [1], tornTail: true }, droppedBytes: 1 });
  });

  it("refuses a file whose complete line is not JSON (a redis-server nodes.conf, say)", () => {
    writeFileSync(join(dir, "nodes.conf"), "e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460\nvars currentEpoch 6 lastVoteEpoch 0\n");
    expect(() => recover(dir, new Set())).toThrow(RecoveryError);
    expect(() => recover(dir, new Set())).toThrow(`${join(dir, "nodes.conf")} line 1 is not a JSON record: not a Faultline data file (move it away, or use another --dir)`);
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
    expect(readFileSync(join(dir, "nodes.conf"), "utf8")).toBe('{"v":2}\n');
    expect(readFileSync(join(dir, "log"), "utf8")).toBe('"a"\n["b",2]\n');
    expect(readdirSync(dir).sort()).toEqual(["log", "nodes.conf"]);
    await d.close();
    expect(recover(dir, new Set()).recovered?.files["nodes.conf"]?.records).toEqual([{ v: 2 }]);
  });

  it("a write after appends to the same file replaces it, and later appends go to the new file", async () => {
    const { d } = disk();
    d.submit({ id: 1, file: "f", op: "append", record: 1, sync: false });
    d.submit({ id: 2, file: "f", op: "write", record: 2, sync: true });
    d.submit({ id: 3, file: "f", op: "append", record: 3, sync: false });
    await d.close();
    expect(readFileSync(join(dir, "f"), "utf8")).toBe("2\n3\n");
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
    const lines = (file: string) => readFileSync(join(dir, file), "utf8").trimEnd().split("\n");
    const expectedF = ['"reset"', ...ids.filter((i) => i > 100 && (i > 200 || i % 3 !== 0)).map(String)];
    expect(lines("f")).toEqual(expectedF);
    expect(lines("g")).toEqual(ids.filter((i) => i % 3 === 0 && i <= 200).map(String));
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
