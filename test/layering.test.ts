import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { checkCore, checkSources, coreFiles } from "./layering.js";

const root = join(import.meta.dirname, "..", "core");
const check = (source: string) => checkSources(new Map([[join(root, "x", "file.ts"), source]]), root).map((v) => v.what);

describe("core/ layering", () => {
  it("core/ has sources to check", () => {
    expect(coreFiles(root).length).toBeGreaterThan(3);
  });

  it("core/ imports only core/ and uses no clock, randomness, timers, process or IO", () => {
    expect(checkCore(root)).toEqual([]);
  });

  it.each([
    ['import { readFileSync } from "node:fs";', 'imports "node:fs"'],
    ['import seedrandom from "seedrandom";', 'imports "seedrandom"'],
    ['import { Run } from "../../sim/run.js";', "outside core/"],
    ['export * from "../../sim/run.js";', "outside core/"],
    ['const m = await import("node:os");', 'imports "node:os"'],
    ["const t = Date.now();", "uses Date"],
    ["const d = new Date();", "uses Date"],
    ["const r = Math.random();", "Math.random"],
    ["setTimeout(() => {}, 10);", "uses setTimeout"],
    ["queueMicrotask(() => {});", "uses queueMicrotask"],
    ["const e = process.env;", "uses process"],
    ["const t = performance.now();", "uses performance"],
    ["const g = globalThis.Math;", "uses globalThis"],
    ["console.log(1);", "uses console"],
  ])("catches %s", (source, expected) => {
    expect(check(source).join("; ")).toContain(expected);
  });

  it.each([
    'import { assert } from "../machine.js";',
    "const o = { process: 1, Date: 2 }; o.process += o.Date;",
    'const s = "Date.now() and Math.random() in a string";',
    "function f(process: number): number { return process; }",
    "export {}; const Date = 3; const x = Date + 1;",
    "interface I { setTimeout: number }",
    "const m = Math.floor(1.5);",
  ])("allows %s", (source) => {
    expect(check(source)).toEqual([]);
  });
});
