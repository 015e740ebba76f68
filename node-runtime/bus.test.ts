// The bus on real sockets (127.0.0.1): what its handshake lets through. Two or three Bus objects
// in this process, each with a log file; a message either reaches the other's onMessage or the
// logs say why not. Goal: a wrong, missing or replayed bus secret and a certificate from another
// CA never let a ClusterMsg reach the node, and a good one does.

import { mkdtempSync, rmSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { ClusterMsg } from "../core/cluster/types.js";
import { type Certs, freeClusterPort, makeCerts, opensslMissing, readLog, sleep, tlsSettingsFor, waitFor } from "../test/real/support.js";
import { Bus, type BusSecurity } from "./bus.js";
import { NodeLog } from "./log.js";
import { loadTls } from "./tls.js";

interface TestBus {
  readonly bus: Bus;
  readonly address: string;
  readonly logfile: string;
  readonly got: { from: string; msg: ClusterMsg }[];
}

const root = mkdtempSync(join(tmpdir(), "faultline-bus-"));
const open: Bus[] = [];
const servers: Server[] = [];
const taken = new Set<number>();
const ACK: ClusterMsg = { type: "repl-ack", offset: 7 };
const WAIT_MS = 10_000;

afterEach(() => {
  for (const b of open.splice(0)) {
    b.stopAccepting();
    b.close();
  }
  for (const s of servers.splice(0)) s.close();
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A bus for node address 127.0.0.1:port (listening on port + 10000 unless `listenPort`). */
async function startBus(security: BusSecurity, listenPort?: number): Promise<TestBus> {
  const port = await freeClusterPort(taken);
  taken.add(port);
  const address = `127.0.0.1:${port}`;
  const logfile = join(root, `${port}.log`);
  const got: TestBus["got"] = [];
  const bus = new Bus(address, 2_000, (from, msg) => got.push({ from, msg }), new NodeLog(address, logfile), security);
  await bus.listen("127.0.0.1", listenPort ?? port + 10000);
  open.push(bus);
  return { bus, address, logfile, got };
}

function logged(b: TestBus, type: string): Record<string, unknown>[] {
  return readLog(b.logfile).filter((l) => l.type === type);
}

/** Sends ACK from `a` to `b` every 100 ms (links retry after a backoff) until `done`. */
async function sendUntil(a: TestBus, b: TestBus, what: string, done: () => boolean): Promise<void> {
  await waitFor(what, WAIT_MS, async () => {
    a.bus.send(b.address, ACK);
    return done() ? true : null;
  });
}

const secret = (text: string): BusSecurity => ({ tls: null, secret: Buffer.from(text) });

describe("bus secret", () => {
  it("lets messages through between nodes with the same secret", async () => {
    const a = await startBus(secret("s3cret"));
    const b = await startBus(secret("s3cret"));
    await sendUntil(a, b, "b receives a's message", () => b.got.length > 0);
    expect(b.got[0]).toEqual({ from: a.address, msg: ACK });
    expect(logged(b, "bus-link-up")).toMatchObject([{ from: a.address, dir: "in" }]);
    expect(logged(a, "bus-link-up")).toMatchObject([{ to: b.address, dir: "out" }]);
    expect(logged(a, "bus-auth-failed").length + logged(b, "bus-auth-failed").length).toBe(0);
  });

  it.each([
    ["a different secret", secret("wrong"), secret("s3cret"), "bus secret mismatch"],
    ["no secret, at a node with one", secret(""), secret("s3cret"), "the dialer has no bus secret and the listener requires one"],
    ["a secret, at a node without one", secret("s3cret"), secret(""), "the dialer uses a bus secret and the listener has none"],
  ])("delivers nothing from a node with %s; both sides log bus-auth-failed", async (_what, from, to, reason) => {
    const none = (s: BusSecurity): BusSecurity => (s.secret?.length === 0 ? { tls: null, secret: null } : s);
    const a = await startBus(none(from));
    const b = await startBus(none(to));
    await sendUntil(a, b, "both sides log bus-auth-failed", () => logged(a, "bus-auth-failed").length > 0 && logged(b, "bus-auth-failed").length > 0);
    await sleep(300);
    a.bus.send(b.address, ACK);
    await sleep(300);
    expect(b.got).toEqual([]);
    expect(logged(b, "bus-auth-failed")[0]).toMatchObject({ from: a.address, error: reason });
    expect(logged(a, "bus-auth-failed")[0]).toMatchObject({ to: b.address, error: `refused by the listener: ${reason}` });
    expect(logged(b, "bus-link-up")).toEqual([]);
  });

  it("refuses a recorded handshake and the messages after it, replayed on a new connection", async () => {
    // a dials b's address; a recording proxy sits there and forwards to where b really listens.
    const busPort = await freeClusterPort(taken);
    taken.add(busPort);
    const b = await startBus(secret("s3cret"), busPort);
    const a = await startBus(secret("s3cret"));
    const recorded: Buffer[] = [];
    const proxy = createServer((inbound) => {
      const outbound = connect({ host: "127.0.0.1", port: busPort });
      inbound.on("data", (chunk: Buffer) => {
        recorded.push(Buffer.from(chunk));
        outbound.write(chunk);
      });
      outbound.on("data", (chunk: Buffer) => inbound.write(chunk));
      inbound.on("close", () => outbound.destroy());
      outbound.on("close", () => inbound.destroy());
      inbound.on("error", () => {});
      outbound.on("error", () => {});
    });
    servers.push(proxy);
    await new Promise<void>((resolve) => proxy.listen(Number(b.address.split(":")[1]) + 10000, "127.0.0.1", resolve));
    await sendUntil(a, b, "b receives a's message through the proxy", () => b.got.length > 0);
    await sleep(300); // the messages still in flight arrive
    const delivered = b.got.length;
    const replay: Socket = connect({ host: "127.0.0.1", port: busPort });
    replay.on("error", () => {});
    replay.write(Buffer.concat(recorded));
    await waitFor("b logs bus-auth-failed for the replay", WAIT_MS, async () => (logged(b, "bus-auth-failed").length > 0 ? true : null));
    replay.destroy();
    expect(logged(b, "bus-auth-failed")[0]).toMatchObject({ from: a.address, error: "bus secret mismatch" });
    expect(b.got.length).toBe(delivered);
  });

  it("drops a peer that sends junk, and keeps serving others", async () => {
    const b = await startBus(secret("s3cret"));
    const junk = connect({ host: "127.0.0.1", port: Number(b.address.split(":")[1]) + 10000 });
    junk.on("error", () => {});
    junk.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    await waitFor("b logs bus-bad-frame", WAIT_MS, async () => (logged(b, "bus-bad-frame").length > 0 ? true : null));
    junk.destroy();
    expect(logged(b, "bus-bad-frame")[0]?.["error"]).toMatch(/^frame version \d+, expected 1$/);
    const a = await startBus(secret("s3cret"));
    await sendUntil(a, b, "b still receives a's message", () => b.got.length > 0);
  });
});

const noOpenssl = opensslMissing();
const mustRun = process.env["CI"] === "true";
if (noOpenssl !== null && !mustRun) console.warn(`node-runtime/bus.test.ts TLS tests skipped: ${noOpenssl}`);

describe.skipIf(noOpenssl !== null && !mustRun)("bus over TLS (tls-cluster)", () => {
  let certs: Certs;
  beforeAll(async () => {
    if (noOpenssl !== null) throw new Error(`${noOpenssl}, and CI=true requires these tests`);
    certs = await makeCerts(mkdtempSync(join(root, "certs-")));
  });

  const tlsOf = (cert: string, key: string, ca: string): BusSecurity => {
    const settings = tlsSettingsFor(cert, key, ca);
    const loaded = loadTls(settings);
    return { tls: { server: loaded.busServer, client: loaded.busClient }, secret: null };
  };

  it("carries messages between nodes whose certificates the CA signed", async () => {
    const a = await startBus(tlsOf(certs.cert, certs.key, certs.caCert));
    const b = await startBus(tlsOf(certs.clientCert, certs.clientKey, certs.caCert));
    await sendUntil(a, b, "b receives a's message over TLS", () => b.got.length > 0);
    expect(b.got[0]).toEqual({ from: a.address, msg: ACK });
  });

  it("refuses a node whose certificate another CA signed, both ways; both sides log bus-tls-refused", async () => {
    const good = await startBus(tlsOf(certs.cert, certs.key, certs.caCert));
    const stranger = await startBus(tlsOf(certs.otherCert, certs.otherKey, certs.otherCaCert));
    await sendUntil(stranger, good, "both log bus-tls-refused", () => logged(good, "bus-tls-refused").length > 0 && logged(stranger, "bus-tls-refused").length > 0);
    good.bus.send(stranger.address, ACK);
    await sleep(500);
    expect(good.got).toEqual([]);
    expect(stranger.got).toEqual([]);
    expect(logged(stranger, "bus-tls-refused")[0]).toMatchObject({ to: good.address, error: "self-signed certificate in certificate chain" });
  });

  it("refuses a plain-TCP peer on the TLS bus", async () => {
    const good = await startBus(tlsOf(certs.cert, certs.key, certs.caCert));
    const plain = await startBus({ tls: null, secret: null });
    await sendUntil(plain, good, "the TLS node logs bus-tls-refused", () => logged(good, "bus-tls-refused").length > 0);
    expect(good.got).toEqual([]);
  });
});
