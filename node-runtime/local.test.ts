// `faultline local`'s refusals and its clean-up when a node fails to start, in-process with a
// launcher that is not faultline. (A real local cluster, up and down, is test/real/local.test.ts.)

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Out } from "./admin.js";
import { isOurNode, localDown, localUp } from "./local.js";

let dir: string;
let lines: string[];
const out: Out = { line: (t) => lines.push(t), progress: () => {}, confirm: async () => false };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "faultline-local-unit-"));
  lines = [];
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A launcher whose "node" exits at once with status 3 after printing a line. */
const failing = [process.execPath, "-e", "console.log('cannot start: simulated'); process.exit(3)"];

/** Listens on 127.0.0.1:port; null when the port is taken. */
function listen(port: number): Promise<Server | null> {
  const s = createServer();
  return new Promise((r) => {
    s.once("error", () => r(null));
    s.listen({ port, host: "127.0.0.1", exclusive: true }, () => r(s));
  });
}

/**
 * Three consecutive ports whose bus ports are free too. Below 32768 for client and bus ports, out
 * of Linux's ephemeral range, so no outgoing connection takes one before `up` checks it.
 */
async function freeBase(): Promise<number> {
  for (;;) {
    const base = 12000 + Math.floor(Math.random() * 10000);
    const servers = await Promise.all([0, 1, 2].flatMap((i) => [listen(base + i), listen(base + i + 10000)]));
    await Promise.all(servers.map((s) => (s === null ? null : new Promise((r) => s.close(r)))));
    if (servers.every((s) => s !== null)) return base;
  }
}

const up = async (over: Partial<Parameters<typeof localUp>[0]> = {}) =>
  localUp({ masters: 3, replicas: 0, dir, portBase: await freeBase(), nodeTimeoutMs: 1000, launcher: failing, ...over }, out);

describe("faultline local up", () => {
  it.each([
    [{ masters: 2 }, "--masters must be 3 or more"],
    [{ replicas: -1 }, "--replicas must be a whole number ≥ 0"],
    [{ masters: 51, replicas: 1 }, "102 nodes is more than faultline local starts (100)"],
    [{ portBase: 60000 }, "--port-base must leave room for 3 client ports and their bus ports (+10000) within 1024..65535"],
    [{ nodeTimeoutMs: 10 }, "--node-timeout must be at least 100 ms"],
  ])("refuses %j", async (over, error) => {
    await expect(up(over)).rejects.toThrow(error);
  });

  it("refuses ports in use, naming each", async () => {
    const port = await freeBase();
    const server = (await listen(port)) as Server;
    try {
      await expect(up({ portBase: port })).rejects.toThrow(`ports in use on 127.0.0.1:\n  ${port} (client port of node ${port}): EADDRINUSE`);
    } finally {
      server.close();
    }
  });

  it("refuses node directories or logs it did not record", async () => {
    mkdirSync(join(dir, "nodes", "7000"), { recursive: true });
    await expect(up()).rejects.toThrow(`${dir} holds nodes/ that no faultline local run recorded`);
  });

  it("stops what it started when a node fails to start, with what that node printed, and records the stop", async () => {
    await expect(up()).rejects.toThrow(/^node \d+ exited 3; it printed:\ncannot start: simulated$/);
    const state = JSON.parse(readFileSync(join(dir, "local.json"), "utf8")) as { nodes: { pid: number; port: number }[]; stoppedAt: string | null };
    expect(state.nodes.length).toBe(3);
    expect(state.stoppedAt).not.toBeNull();
    expect(state.nodes.filter((n) => isOurNode(n.pid, n.port))).toEqual([]);
    // The next up in that directory clears the failed run's files first.
    await expect(up()).rejects.toThrow(/exited 3/);
    expect(lines).toContainEqual(expect.stringMatching(/^Removing the stopped cluster's files in /));
  });
});

describe("faultline local down", () => {
  it("says when there is no local cluster in the directory", async () => {
    await expect(localDown(dir, out)).rejects.toThrow(`no local cluster in ${dir} (no local.json); start one with faultline local up`);
  });

  it("refuses a state file it cannot read", async () => {
    writeFileSync(join(dir, "local.json"), "{");
    await expect(localDown(dir, out)).rejects.toThrow(`${join(dir, "local.json")} is not a faultline local state file`);
  });

  it("never signals a recorded pid that is not the node it started (pid reuse)", async () => {
    // This test process's pid is alive but is not `faultline node --port 7000`.
    writeFileSync(
      join(dir, "local.json"),
      JSON.stringify({ version: 1, startedAt: "then", masters: 3, replicas: 0, nodeTimeoutMs: 1000, stoppedAt: null, nodes: [{ port: 7000, pid: process.pid, dir: "nodes/7000", log: "logs/7000.log", out: "logs/7000.out" }] }),
    );
    expect(isOurNode(process.pid, 7000)).toBe(false);
    await localDown(dir, out);
    expect(lines).toEqual([`Nothing is running in ${dir}.`]);
  });
});
