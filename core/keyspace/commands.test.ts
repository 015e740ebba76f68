// Table-driven command tests: each case runs its setup commands on a fresh keyspace, then one
// command, and compares the exact reply (as plain data: see plain.ts). The tables live in
// test-support/command-cases.ts, where test/redis-diff.test.ts replays them against redis-server.

import { describe, expect, it } from "vitest";
import { COMMANDS, commandKeys } from "./commands.js";
import { Keyspace } from "./keyspace.js";
import { type Plain, plain } from "./plain.js";
import { DISPATCH, GENERIC, HASHES, LISTS, NOW, SETS, STATE, STRINGS, words } from "./test-support/command-cases.js";

function runCase(setup: readonly string[], cmd: string): Plain {
  const ks = new Keyspace();
  for (const line of setup) {
    const r = ks.exec(words(line), NOW);
    if (r.reply.type === "error") throw new Error(`setup ${line}: ${r.reply.value}`);
  }
  return plain(ks.exec(words(cmd), NOW).reply);
}

describe.each([
  ["strings", STRINGS],
  ["generic", GENERIC],
  ["lists", LISTS],
  ["sets", SETS],
  ["hashes", HASHES],
  ["dispatch", DISPATCH],
])("%s", (_group, cases) => {
  it.each(cases)("%s", (_name, setup, cmd, expected) => {
    expect(runCase(setup, cmd)).toEqual(expected);
  });
});

describe("state after commands", () => {
  it.each(STATE)("%s", (_name, setup, probe, expected) => {
    expect(runCase(setup, probe)).toEqual(expected);
  });
});

describe("command table", () => {
  it("has Redis 7's arity and key positions", () => {
    expect(COMMANDS.get("get")).toEqual({ name: "get", arity: 2, flags: ["readonly", "fast"], firstKey: 1, lastKey: 1, step: 1 });
    expect(COMMANDS.get("mset")).toMatchObject({ arity: -3, firstKey: 1, lastKey: -1, step: 2 });
    expect(COMMANDS.get("rename")).toMatchObject({ arity: 3, firstKey: 1, lastKey: 2, step: 1 });
    expect(COMMANDS.get("blpop")).toMatchObject({ arity: -3, firstKey: 1, lastKey: -2, step: 1 });
    expect(COMMANDS.get("scan")).toMatchObject({ firstKey: 0, lastKey: 0, step: 0 });
  });

  it("extracts keys the way the router needs them", () => {
    const keys = (line: string): string[] => {
      const args = words(line);
      return commandKeys(COMMANDS.get((args[0] as string).toLowerCase()) ?? { name: "", arity: 0, flags: [], firstKey: 0, lastKey: 0, step: 0 }, args);
    };
    expect(keys("MSET a 1 b 2")).toEqual(["a", "b"]);
    expect(keys("DEL a b c")).toEqual(["a", "b", "c"]);
    expect(keys("BLPOP a b 0")).toEqual(["a", "b"]);
    expect(keys("RENAME a b")).toEqual(["a", "b"]);
    expect(keys("SINTERSTORE d a b")).toEqual(["d", "a", "b"]);
    expect(keys("SCAN 0")).toEqual([]);
  });

  it("every write command is flagged write and no read command is", () => {
    for (const spec of COMMANDS.values()) expect(spec.flags.includes("write") !== spec.flags.includes("readonly")).toBe(true);
  });

  it("has a handler for every entry", () => {
    const ks = new Keyspace();
    for (const name of COMMANDS.keys()) {
      const r = ks.exec([name], NOW);
      expect(r.reply.type === "error" && r.reply.value.startsWith("ERR unknown command")).toBe(false);
    }
  });
});
