// Durability on a real node: `faultline node --appendonly yes --appendfsync always` acknowledges a
// write only once its slot range's AOF is fsynced, so a SIGKILL loses nothing acknowledged and a
// restart from the same --dir serves every key again. Needs no redis-cli: it talks RESP itself.
// Needs dist/ (`npm test` builds first). Bounded waits; the process is killed in afterAll.

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { encodeRequest, ReplyParser, type RespValue } from "../../core/resp/codec.js";
import { plain } from "../../core/keyspace/plain.js";

const repo = join(import.meta.dirname, "..", "..");
const bin = join(repo, "bin", "faultline.js");
const dir = mkdtempSync(join(tmpdir(), "faultline-aof-"));
let child: ChildProcess | null = null;

afterAll(() => {
  child?.kill("SIGKILL");
  rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = createServer();
      s.once("error", reject);
      s.listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    if (port + 10000 <= 65535) return port;
  }
}

function start(port: number): ChildProcess {
  const c = spawn(process.execPath, [bin, "node", "--port", String(port), "--cluster-enabled", "yes", "--cluster-node-timeout", "1000", "--dir", dir, "--appendonly", "yes", "--appendfsync", "always", "--logfile", join(dir, "node.log")], { stdio: "ignore" });
  return c;
}

/** A RESP2 connection that sends one command at a time. */
class Conn {
  private readonly parser = new ReplyParser();
  private waiting: ((v: RespValue) => void)[] = [];
  private constructor(private readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.parser.feed(chunk);
      for (let v = this.parser.next(); v !== null; v = this.parser.next()) this.waiting.shift()?.(v);
    });
  }
  static async open(port: number, deadlineMs: number): Promise<Conn> {
    for (;;) {
      try {
        const s = await new Promise<Socket>((resolve, reject) => {
          const sock = connect(port, "127.0.0.1", () => resolve(sock));
          sock.once("error", reject);
        });
        return new Conn(s);
      } catch (e) {
        if (Date.now() > deadlineMs) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
  call(...args: string[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to ${args.join(" ")}`)), 5000);
      this.waiting.push((v) => {
        clearTimeout(timer);
        resolve(plain(v));
      });
      this.socket.write(encodeRequest(args));
    });
  }
  close(): void {
    this.socket.destroy();
  }
}

async function until(what: string, ms: number, f: () => Promise<boolean>): Promise<void> {
  const end = Date.now() + ms;
  while (!(await f())) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("faultline node --appendonly yes --appendfsync always", () => {
  it("serves every acknowledged key after a SIGKILL and a restart from the same --dir", async () => {
    const port = await freePort();
    child = start(port);
    let c = await Conn.open(port, Date.now() + 15_000);
    expect(await c.call("CLUSTER", "ADDSLOTSRANGE", "0", "16383")).toEqual({ simple: "OK" });
    await until("cluster_state:ok", 15_000, async () => String(await c.call("CLUSTER", "INFO")).includes("cluster_state:ok"));
    const acked: string[] = [];
    for (let i = 0; i < 300; i++) {
      const key = `key:${i}`;
      if ((await c.call("SET", key, `v${i}`)) !== null) acked.push(key);
      if (i % 50 === 0) await c.call("RPUSH", "list", String(i));
    }
    expect(await c.call("EXPIRE", "key:0", "1000")).toBe(1);
    expect(acked).toHaveLength(300);
    c.close();
    child.kill("SIGKILL");
    await new Promise((r) => child?.once("exit", r));
    expect(readdirSync(dir).filter((f) => f.startsWith("aof-")).length).toBeGreaterThan(1); // split by slot range

    child = start(port);
    c = await Conn.open(port, Date.now() + 15_000);
    await until("cluster_state:ok again", 15_000, async () => String(await c.call("CLUSTER", "INFO")).includes("cluster_state:ok"));
    expect(await c.call("DBSIZE")).toBe(301);
    for (const [i, key] of acked.entries()) expect(await c.call("GET", key)).toBe(`v${i}`);
    expect(await c.call("LRANGE", "list", "0", "-1")).toEqual(["0", "50", "100", "150", "200", "250"]);
    const ttl = (await c.call("TTL", "key:0")) as number;
    expect(ttl).toBeGreaterThan(900);
    expect(ttl).toBeLessThanOrEqual(1000);
    // Pipelined: each SET's reply waits for its fsync; the ECHO sent after it must not overtake it.
    const pipelined = await Promise.all(Array.from({ length: 100 }, (_, i) => [c.call("SET", `p:${i}`, "x"), c.call("ECHO", String(i))]).flat());
    expect(pipelined).toEqual(Array.from({ length: 100 }, (_, i) => [{ simple: "OK" }, String(i)]).flat());
    c.close();
  }, 60_000);
});
