// Durability on a real node: `faultline node --appendonly yes --appendfsync always` acknowledges a
// write only once its slot range's AOF is fsynced, so a SIGKILL loses nothing acknowledged and a
// restart from the same --dir serves every key again. A crash that leaves garbage and a torn record
// at the end of an AOF is repaired at the next start: the tail is cut (and truncated on disk) with a
// warn line saying how many bytes and why, the node serves what was written before, and the start
// after more writes is clean. Needs no redis-cli: it talks RESP itself.
// Needs dist/ (`npm test` builds first). Bounded waits; every process is killed in afterAll.

import { type ChildProcess, spawn } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { encodeRequest, ReplyParser, type RespValue } from "../../core/resp/codec.js";
import { plain } from "../../core/keyspace/plain.js";
import { parseLine, recordLine } from "../../node-runtime/records.js";
import { readLog } from "./support.js";

const repo = join(import.meta.dirname, "..", "..");
const bin = join(repo, "bin", "faultline.js");
const root = mkdtempSync(join(tmpdir(), "faultline-aof-"));
const children: ChildProcess[] = [];

afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
  rmSync(root, { recursive: true, force: true });
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

/** A node with appendonly always on `dir`; what it prints to stderr is kept for failure messages. */
function start(port: number, dir: string, logfile: string): ChildProcess & { stderrText: string[] } {
  const c = spawn(process.execPath, [bin, "node", "--port", String(port), "--cluster-enabled", "yes", "--cluster-node-timeout", "1000", "--dir", dir, "--appendonly", "yes", "--appendfsync", "always", "--logfile", logfile], { stdio: ["ignore", "ignore", "pipe"] });
  const stderrText: string[] = [];
  c.stderr?.on("data", (b: Buffer) => stderrText.push(b.toString("utf8")));
  children.push(c);
  return Object.assign(c, { stderrText });
}

async function kill9(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return;
  const exited = new Promise((r) => c.once("exit", r));
  c.kill("SIGKILL");
  await exited;
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
    const dir = join(root, "kill");
    const log = join(dir, "node.log"); // in --dir: the node leaves it out of its data files
    let child = start(port, dir, log);
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
    await kill9(child);
    expect(readdirSync(dir).filter((f) => f.startsWith("aof-")).length).toBeGreaterThan(1); // split by slot range

    child = start(port, dir, log);
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

  it("cuts garbage and a torn record off an AOF's end after a SIGKILL, logs it, serves what came before, and starts clean after", async () => {
    const port = await freePort();
    const dir = join(root, "torn");
    mkdirSync(dir);
    const logOf = (n: number) => join(root, `torn-${n}.log`);
    let child = start(port, dir, logOf(1));
    let c = await Conn.open(port, Date.now() + 15_000);
    expect(await c.call("CLUSTER", "ADDSLOTSRANGE", "0", "16383")).toEqual({ simple: "OK" });
    await until("cluster_state:ok", 15_000, async () => String(await c.call("CLUSTER", "INFO")).includes("cluster_state:ok"));
    for (let i = 0; i < 100; i++) expect(await c.call("SET", `a:${i}`, `v${i}`)).toEqual({ simple: "OK" });
    c.close();
    await kill9(child);

    // What a crash can leave on some filesystems: a complete line of zeros and garbage, then a record cut short.
    const aofs = readdirSync(dir).filter((f) => f.startsWith("aof-"));
    const victim = aofs.sort((x, y) => statSync(join(dir, y)).size - statSync(join(dir, x)).size)[0] as string;
    const tail = "\0".repeat(16) + "garbage\n" + recordLine({ c: [["SET", "a:0", "overwritten"]] }).slice(0, -6);
    appendFileSync(join(dir, victim), tail);

    child = start(port, dir, logOf(2));
    c = await Conn.open(port, Date.now() + 15_000);
    await until("cluster_state:ok after the cut", 15_000, async () => String(await c.call("CLUSTER", "INFO")).includes("cluster_state:ok"));
    expect(child.exitCode, child.stderrText.join("")).toBe(null);
    expect(await c.call("DBSIZE")).toBe(100);
    for (let i = 0; i < 100; i++) expect(await c.call("GET", `a:${i}`)).toBe(`v${i}`);
    const second = readLog(logOf(2));
    const cut = second.find((l) => l.type === "recovered-file" && l["file"] === victim);
    expect(cut).toMatchObject({ level: "warn", droppedBytes: Buffer.byteLength(tail) });
    expect(String(cut?.["cut"])).toMatch(new RegExp(`^damaged tail from line \\d+ \\(not a checksummed record; ${Buffer.byteLength(tail)} bytes\\)$`));
    expect(second.find((l) => l.type === "data-recovered")).toMatchObject({ keys: 100, tornFiles: [victim] });
    // The cut is on disk too: every line of the file is a valid record again.
    const lines = readFileSync(join(dir, victim)).toString("utf8").split("\n");
    expect(lines.at(-1)).toBe("");
    for (const line of lines.slice(0, -1)) expect(parseLine(Buffer.from(line, "utf8")).ok, line).toBe(true);

    // More writes (some to the repaired file), another SIGKILL: the next start cuts nothing.
    for (let i = 0; i < 100; i++) expect(await c.call("SET", `b:${i}`, `w${i}`)).toEqual({ simple: "OK" });
    c.close();
    await kill9(child);
    child = start(port, dir, logOf(3));
    c = await Conn.open(port, Date.now() + 15_000);
    await until("cluster_state:ok on the clean start", 15_000, async () => String(await c.call("CLUSTER", "INFO")).includes("cluster_state:ok"));
    expect(await c.call("DBSIZE")).toBe(200);
    for (let i = 0; i < 100; i++) expect([await c.call("GET", `a:${i}`), await c.call("GET", `b:${i}`)]).toEqual([`v${i}`, `w${i}`]);
    const third = readLog(logOf(3)).filter((l) => l.type === "recovered-file");
    expect(third.map((l) => l["file"])).toContain(victim);
    for (const l of third) expect(l, String(l["file"])).toMatchObject({ level: "info", droppedBytes: 0, cut: null });
    expect(readLog(logOf(3)).find((l) => l.type === "data-recovered")).toMatchObject({ keys: 200, tornFiles: [] });
    c.close();
    await kill9(child);
  }, 60_000);
});
