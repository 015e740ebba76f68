// One NodeHost in this process, on real sockets and a temporary directory: the client port's
// protocol handling, durable restarts and graceful stop. (Six processes driven by redis-cli are
// test/real/cluster.test.ts.)

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CLUSTER_DEFAULTS } from "../core/cluster/types.js";
import { heapGrowthCapped, NodeHost } from "./host.js";
import { NodeLog } from "./log.js";
import { parseLine } from "./records.js";

let dir: string;
let hosts: NodeHost[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "faultline-host-"));
});
afterEach(async () => {
  for (const h of hosts) await h.stop();
  hosts = [];
  rmSync(dir, { recursive: true, force: true });
});

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen({ host: "127.0.0.1", port, exclusive: true }, () => {
      const got = (server.address() as { port: number }).port;
      server.close(() => resolve(got));
    });
  });
}

async function freePort(): Promise<number> {
  for (;;) {
    const port = await listenOnce(0);
    if (port <= 55535 && (await listenOnce(port + 10000).then(() => true, () => false))) return port;
  }
}

const logfile = () => join(dir, "node.log");


async function startHost(port: number, requirepass = ""): Promise<NodeHost> {
  const host = new NodeHost({
    address: `127.0.0.1:${port}`,
    bind: "127.0.0.1",
    port,
    busPort: port + 10000,
    dir: join(dir, "data"),
    ignoreFiles: new Set(),
    config: { ...CLUSTER_DEFAULTS, nodeTimeoutMs: 1000, requirepass },
    log: new NodeLog(`127.0.0.1:${port}`, logfile()),
    onFatal: (why) => {
      throw new Error(why);
    },
  });
  await host.start();
  hosts.push(host);
  return host;
}

/** Sends `bytes` and collects what comes back until the server closes or `quietMs` pass with nothing new. */
function exchange(port: number, bytes: string, quietMs = 300): Promise<{ reply: string; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    let reply = "";
    let timer = setTimeout(() => done(false), quietMs * 10);
    const done = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ reply, closed });
    };
    socket.on("connect", () => socket.write(Buffer.from(bytes, "latin1")));
    socket.on("data", (b: Buffer) => {
      reply += b.toString("latin1");
      clearTimeout(timer);
      timer = setTimeout(() => done(false), quietMs);
    });
    socket.on("close", () => done(true));
  });
}

describe("NodeHost", () => {
  it("answers pipelined requests in order, and a lone node's CLUSTER INFO", async () => {
    const port = await freePort();
    await startHost(port);
    const r = await exchange(port, "PING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv\xff\r\nGET k\r\nCLUSTER KEYSLOT k\r\n");
    expect(r.reply).toBe("+PONG\r\n-CLUSTERDOWN Hash slot not served\r\n-CLUSTERDOWN Hash slot not served\r\n:7629\r\n");
    const info = await exchange(port, "CLUSTER INFO\r\n");
    expect(info.reply).toMatch(/^\$\d+\r\ncluster_state:fail\r\ncluster_slots_assigned:0\r\n/);
  });

  it("encodes replies in the protocol HELLO chose, and QUIT closes after its reply", async () => {
    const port = await freePort();
    await startHost(port);
    const r = await exchange(port, "HELLO 3\r\nCONFIG GET cluster-node-timeout\r\nQUIT\r\nPING\r\n");
    expect(r.closed).toBe(true);
    expect(r.reply.startsWith("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n")).toBe(true);
    // After HELLO 3 the CONFIG GET reply is a RESP3 map, then QUIT's +OK, and nothing for the PING after it.
    expect(r.reply.endsWith("%1\r\n$20\r\ncluster-node-timeout\r\n$4\r\n1000\r\n+OK\r\n")).toBe(true);
    const resp2 = await exchange(port, "CONFIG GET cluster-node-timeout\r\n");
    expect(resp2.reply).toBe("*2\r\n$20\r\ncluster-node-timeout\r\n$4\r\n1000\r\n");
  });

  it("answers a protocol error with Redis's text and closes; other clients are served", async () => {
    const port = await freePort();
    await startHost(port);
    expect(await exchange(port, "*1\r\n$-5\r\n")).toEqual({ reply: "-ERR Protocol error: invalid bulk length\r\n", closed: true });
    expect(await exchange(port, "*3000000\r\n")).toEqual({ reply: "-ERR Protocol error: invalid multibulk length\r\n", closed: true });
    expect((await exchange(port, "PING\r\n")).reply).toBe("+PONG\r\n");
    expect(readFileSync(logfile(), "utf8")).toMatch(/"type":"client-protocol-error","client":"127\.0\.0\.1:\d+","error":"ERR Protocol error: invalid bulk length"/);
  });

  it("with requirepass, a client that has not authenticated gets Redis's tighter request limits; after AUTH the normal ones", async () => {
    const port = await freePort();
    await startHost(port, "pw");
    const many = `*11\r\n${"$1\r\nx\r\n".repeat(11)}`;
    expect(await exchange(port, many)).toEqual({ reply: "-ERR Protocol error: unauthenticated multibulk length\r\n", closed: true });
    expect(await exchange(port, "*2\r\n$3\r\nGET\r\n$20000\r\n")).toEqual({ reply: "-ERR Protocol error: unauthenticated bulk length\r\n", closed: true });
    const ok = await exchange(port, `AUTH pw\r\n*11\r\n$4\r\nECHO\r\n${"$1\r\nx\r\n".repeat(10)}`);
    expect(ok.reply).toBe("+OK\r\n-ERR wrong number of arguments for 'echo' command\r\n");
  });

  it("saves nodes.conf, stops gracefully, and comes back with the same name", async () => {
    const port = await freePort();
    const first = await startHost(port);
    const id = (await exchange(port, "CLUSTER MYID\r\n")).reply;
    expect(id).toMatch(/^\$40\r\n[0-9a-f]{40}\r\n$/);
    await first.stop();
    hosts = [];
    const line = parseLine(readFileSync(join(dir, "data", "nodes.conf")).subarray(0, -1)); // a checksummed record (records.ts)
    const saved = (line.ok ? line.record : {}) as { name: string };
    expect(id).toContain(saved.name);
    await startHost(port);
    expect((await exchange(port, "CLUSTER MYID\r\n")).reply).toBe(id);
    const log = readFileSync(logfile(), "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const types = log.map((e) => e["type"]);
    expect(types.filter((t) => t === "listening").length).toBe(2);
    expect(types).toContain("stopped");
    expect(log.find((e) => e["type"] === "recovered-file")).toMatchObject({ level: "info", node: `127.0.0.1:${port}`, file: "nodes.conf", records: 1, droppedBytes: 0 });
    // Machine trace events carry the simulator's fields: t, node, type.
    expect(log.find((e) => e["type"] === "recovered" && e["fresh"] === false)).toMatchObject({ node: `127.0.0.1:${port}`, name: saved.name, role: "master" });
    for (const e of log) expect(typeof e["t"]).toBe("number");
  });

  it("INFO memory reports this process's memory, external buffers included", async () => {
    const port = await freePort();
    await startHost(port);
    const memory = async (): Promise<Record<string, number>> => {
      const text = (await exchange(port, "INFO memory\r\n")).reply;
      return Object.fromEntries([...text.matchAll(/^(used_memory\w*|total_system_memory):(\d+)\r$/gm)].map((m) => [m[1] as string, Number(m[2])]));
    };
    const before = await memory();
    const rss = process.memoryUsage().rss;
    expect(before["used_memory"]).toBeGreaterThan(1 << 20);
    expect(before["used_memory_rss"]).toBeGreaterThan(rss / 2);
    expect(before["used_memory_rss"]).toBeLessThan(rss * 2);
    expect(before["used_memory_startup"]).toBeGreaterThan(0);
    expect(before["used_memory_peak"]).toBeGreaterThanOrEqual(before["used_memory"] as number);
    expect(before["total_system_memory"]).toBe(totalmem());
    // 128 MB outside the V8 heap, held while INFO runs: used_memory counts it (the heap itself may
    // shrink meanwhile by what a young-generation GC frees, hence the margin).
    const held = Buffer.alloc(128 << 20, 1);
    const during = await memory();
    expect(held.length).toBe(128 << 20);
    expect(during["used_memory"]).toBeGreaterThan((before["used_memory"] as number) + (64 << 20));
    expect(during["used_memory_peak"]).toBeGreaterThanOrEqual(during["used_memory"] as number);
  });
});

describe("heap growth cap", () => {
  const MB = 2 ** 20;
  it("applies from 64 MB in use and is lifted below 32 MB, so a heap hovering near one threshold does not flip it", () => {
    expect(heapGrowthCapped(false, 64 * MB - 1)).toBe(false);
    expect(heapGrowthCapped(false, 64 * MB)).toBe(true);
    expect(heapGrowthCapped(true, 40 * MB)).toBe(true);
    expect(heapGrowthCapped(true, 32 * MB)).toBe(true);
    expect(heapGrowthCapped(true, 32 * MB - 1)).toBe(false);
  });
});
