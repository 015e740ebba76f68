// TLS on real nodes: the client port (redis-cli --tls and a node:tls client; client certificates
// required, optional or refused; bad input of every kind), and a cluster bus in mutual TLS
// (tls-cluster yes): three nodes form a cluster with redis-cli --cluster create --tls, and a node
// whose certificate another CA signed cannot join.
//
// Certificates are made for the run with the openssl command. Without openssl (or redis-cli, for
// the parts that use it) those parts are skipped with the reason, except on CI (CI=true), where
// they must run. Needs dist/ (`npm run build`). Every wait is bounded; every process started here
// is killed in afterAll.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ReplyParser } from "../../core/resp/codec.js";
import {
  alive,
  assertBuilt,
  type Certs,
  diagnostics,
  freeClusterPort,
  KEY_PASSPHRASE,
  killNodes,
  makeCerts,
  type NodeProcess,
  onPath,
  opensslMissing,
  rawConnect,
  readLog,
  replyText,
  resp,
  run,
  sleep,
  startNodeWith,
  waitFor,
} from "./support.js";

const NODE_TIMEOUT_MS = 1000;
const WAIT_MS = 15_000;
const mustRun = process.env["CI"] === "true";
const noOpenssl = opensslMissing();
const redisCli = onPath("redis-cli");
const noRedisCli = redisCli === null ? "redis-cli is not on PATH (apt-get install redis-tools)" : null;
if (noOpenssl !== null && !mustRun) console.warn(`test/real/tls.test.ts skipped: ${noOpenssl}`);
if (noOpenssl === null && noRedisCli !== null && !mustRun) console.warn(`test/real/tls.test.ts: redis-cli parts skipped: ${noRedisCli}`);

const nodes: NodeProcess[] = [];
const taken = new Set<number>();
let root = "";
let certs: Certs;

async function port(): Promise<number> {
  const p = await freeClusterPort(taken);
  taken.add(p);
  return p;
}

/** `faultline node` with TLS options for `certs` files (the node's own: cert, key, CA). */
function startTlsNode(p: number, args: readonly string[], own: { cert: string; key: string; ca: string } = { cert: certs.cert, key: certs.key, ca: certs.caCert }): NodeProcess {
  const n = startNodeWith(root, p, NODE_TIMEOUT_MS, { args: ["--tls-cert-file", own.cert, "--tls-key-file", own.key, "--tls-ca-cert-file", own.ca, ...args] });
  nodes.push(n);
  return n;
}

/** The TLS options of a client presenting the client certificate (or none, or another CA's). */
function clientTls(which: "client" | "none" | "other"): { ca: Buffer; cert?: Buffer; key?: Buffer } {
  const ca = readFileSync(certs.caCert);
  if (which === "none") return { ca };
  if (which === "other") return { ca, cert: readFileSync(certs.otherCert), key: readFileSync(certs.otherKey) };
  return { ca, cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) };
}

/** Sends `command` over TLS on a new connection; its reply as `replyText` gives it. */
async function tlsAsk(p: number, command: readonly string[], tls = clientTls("client")): Promise<string> {
  const c = rawConnect(p, tls);
  const parser = new ReplyParser();
  let fed = 0;
  try {
    c.send(resp(...command));
    return await waitFor(`reply to ${command.join(" ").slice(0, 40)} on ${p}`, 5_000, async () => {
      parser.feed(Buffer.from(c.received.slice(fed), "latin1"));
      fed = c.received.length;
      const reply = parser.next();
      if (reply !== null) return replyText(reply);
      if (c.closed) throw new Error(`closed: ${c.error ?? "no error"}; got ${JSON.stringify(c.received)}`);
      return null;
    });
  } finally {
    c.close();
  }
}

/** Waits until the node's log has a line of `type` matching `fields`. */
async function waitForLog(n: NodeProcess, type: string, fields: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
  return waitFor(`node ${n.port} logs ${type} ${JSON.stringify(fields)}`, WAIT_MS, async () => {
    const line = readLog(n.logfile).find((l) => l.type === type && Object.entries(fields).every(([k, v]) => (v instanceof RegExp ? v.test(String(l[k])) : l[k] === v)));
    return line ?? null;
  });
}

/** Waits until the node at TLS port `p` answers PING over TLS. */
async function waitForTlsPing(n: NodeProcess, p: number): Promise<void> {
  await waitFor(`node ${p} answers PING over TLS`, WAIT_MS, async () => {
    if (!alive(n)) throw new Error(`node ${p} exited:\n${n.output}`);
    return (await tlsAsk(p, ["PING"])) === "PONG" ? true : null;
  });
}

describe.skipIf(noOpenssl !== null && !mustRun)("TLS on real nodes", () => {
  beforeAll(async () => {
    if (noOpenssl !== null) throw new Error(`${noOpenssl}, and CI=true requires this suite`);
    assertBuilt();
    root = mkdtempSync(join(tmpdir(), "faultline-tls-real-"));
    certs = await makeCerts(root);
  });

  afterAll(async () => {
    await killNodes(nodes);
    if (root !== "") rmSync(root, { recursive: true, force: true });
  });

  describe("the client port", () => {
    let plainPort = 0;
    let tlsPort = 0;
    let node: NodeProcess;

    beforeAll(async () => {
      plainPort = await port();
      tlsPort = await port();
      node = startTlsNode(plainPort, ["--tls-port", String(tlsPort)]);
      await waitForTlsPing(node, tlsPort);
    });

    it.skipIf(noRedisCli !== null && !mustRun)("answers redis-cli --tls with a client certificate", async () => {
      if (redisCli === null) throw new Error(`${noRedisCli}, and CI=true requires it`);
      const out = await run(redisCli, ["--tls", "--cacert", certs.caCert, "--cert", certs.clientCert, "--key", certs.clientKey, "-p", String(tlsPort), "ping"], 10_000);
      expect(out, diagnostics([node])).toMatchObject({ code: 0, stdout: "PONG\n" });
    });

    it("serves SET and GET to a node:tls client", async () => {
      expect(await tlsAsk(tlsPort, ["CLUSTER", "ADDSLOTSRANGE", "0", "16383"])).toBe("OK");
      await waitFor("SET over TLS is accepted", WAIT_MS, async () => ((await tlsAsk(tlsPort, ["SET", "tls-key", "over TLS"])) === "OK" ? true : null));
      expect(await tlsAsk(tlsPort, ["GET", "tls-key"])).toBe("over TLS");
      expect(await tlsAsk(tlsPort, ["DBSIZE"])).toBe("1");
    });

    it("refuses a client without a certificate (tls-auth-clients yes, Redis's default) and one from another CA", async () => {
      for (const which of ["none", "other"] as const) {
        const c = rawConnect(tlsPort, clientTls(which));
        c.send(resp("PING"));
        await waitFor(`the ${which} client is closed`, WAIT_MS, async () => (c.closed ? true : null));
        expect(c.received).toBe("");
      }
      await waitForLog(node, "client-tls-error", { error: "peer did not return a certificate" });
      await waitForLog(node, "client-tls-error", { error: /certificate/ });
    });

    it.each([
      ["a plain-TCP client on the TLS port", () => rawConnect(tlsPort), resp("PING"), "client-tls-error"],
      ["garbage before the TLS handshake", () => rawConnect(tlsPort), "\x00\x01\x02garbage\r\n", "client-tls-error"],
      ["a TLS client on the plain port", () => rawConnect(plainPort, clientTls("client")), resp("PING"), "client-protocol-error"],
    ])("closes %s with a log line, and keeps serving", async (_what, open, bytes, logType) => {
      const before = readLog(node.logfile).filter((l) => l.type === logType).length;
      const c = open();
      c.socket.once("connect", () => c.send(bytes));
      await waitFor("the connection is closed", WAIT_MS, async () => (c.closed ? true : null));
      await waitFor(`a new ${logType} line`, WAIT_MS, async () => (readLog(node.logfile).filter((l) => l.type === logType).length > before ? true : null));
      expect(alive(node)).toBe(true);
      expect(await tlsAsk(tlsPort, ["PING"])).toBe("PONG");
    });

    it("says a TLS client on the plain port is one", async () => {
      await waitForLog(node, "client-protocol-error", { error: "a TLS handshake on the plain-text port" });
    });
  });

  it("with tls-auth-clients optional serves clients without a certificate but refuses one from another CA", async () => {
    const p = await port();
    const n = startTlsNode(p, ["--port", "0", "--tls-port", String(p), "--tls-cluster", "yes", "--tls-auth-clients", "optional"]);
    await waitForTlsPing(n, p);
    expect(await tlsAsk(p, ["PING"], clientTls("none"))).toBe("PONG");
    const other = rawConnect(p, clientTls("other"));
    other.send(resp("PING"));
    await waitFor("the other CA's client is closed", WAIT_MS, async () => (other.closed ? true : null));
    expect(other.received).toBe("");
    await waitForLog(n, "client-tls-error", { error: /certificate/ });
  });

  it.each([
    ["a missing certificate file", (dir: string) => ["--tls-cert-file", join(dir, "missing.crt")], /^faultline node: cannot read tls-cert-file \S+missing\.crt: no such file or directory$/],
    ["a key that is not the certificate's", () => ["--tls-key-file", certs.clientKey], /^faultline node: tls-cert-file \/ tls-key-file: key values mismatch$/],
    ["a wrong key passphrase", () => ["--tls-key-file", certs.clientKeyEncrypted, "--tls-cert-file", certs.clientCert, "--tls-key-file-pass", `not ${KEY_PASSPHRASE}`], /^faultline node: tls-cert-file \/ tls-key-file: bad decrypt$/],
  ])("refuses to start with %s: exit 1, one line", async (_what, args, line) => {
    const p = await port();
    const n = startTlsNode(p, ["--tls-port", String(p + 1), ...args(root)]);
    const code = await new Promise<number | null>((resolve) => n.child.once("exit", (c) => resolve(c)));
    expect(code, n.output).toBe(1);
    expect(n.output.trimEnd().split("\n")).toEqual([expect.stringMatching(line)]);
  });

  describe.skipIf(noRedisCli !== null && !mustRun)("a cluster bus in mutual TLS (tls-cluster yes)", () => {
    const ports: number[] = [];
    const cliTls = () => ["--tls", "--cacert", certs.caCert, "--cert", certs.clientCert, "--key", certs.clientKey];

    beforeAll(async () => {
      if (redisCli === null) throw new Error(`${noRedisCli}, and CI=true requires it`);
      for (let i = 0; i < 3; i++) ports.push(await port());
      const started = ports.map((p) => startTlsNode(p, ["--port", "0", "--tls-port", String(p), "--tls-cluster", "yes"]));
      for (const [i, n] of started.entries()) await waitForTlsPing(n, ports[i] as number);
    });

    it("forms with redis-cli --cluster create --tls and reaches cluster_state:ok", async () => {
      const create = await run(redisCli as string, [...cliTls(), "--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-yes"], 60_000);
      expect(create.code, `${create.stdout}${create.stderr}\n${diagnostics(nodes)}`).toBe(0);
      for (const p of ports) {
        await waitFor(`${p} is cluster_state:ok and knows 3 nodes`, WAIT_MS, async () => {
          const info = await tlsAsk(p, ["CLUSTER", "INFO"]);
          return info.includes("cluster_state:ok") && info.includes("cluster_known_nodes:3") ? true : null;
        });
      }
      const set = await run(redisCli as string, [...cliTls(), "-c", "-p", String(ports[0]), "set", "key-on-another-node", "v"], 10_000);
      expect(set.stdout).toBe("OK\n");
      const nodesText = await tlsAsk(ports[0] as number, ["CLUSTER", "NODES"]);
      for (const p of ports) expect(nodesText).toContain(`127.0.0.1:${p}@${p + 10000}`);
      for (const n of nodes.filter((x) => ports.includes(x.port))) expect(readLog(n.logfile).filter((l) => l.type === "bus-tls-refused")).toEqual([]);
    });

    it("keeps out a node whose certificate another CA signed: it never shows in CLUSTER NODES, and both sides log bus-tls-refused", async () => {
      const p = await port();
      const stranger = startTlsNode(p, ["--port", "0", "--tls-port", String(p), "--tls-cluster", "yes"], { cert: certs.otherCert, key: certs.otherKey, ca: certs.otherCaCert });
      const strangerTls = { ca: readFileSync(certs.otherCaCert), cert: readFileSync(certs.otherCert), key: readFileSync(certs.otherKey) };
      await waitFor(`${p} answers PING`, WAIT_MS, async () => ((await tlsAsk(p, ["PING"], strangerTls)) === "PONG" ? true : null));
      expect(await tlsAsk(p, ["CLUSTER", "MEET", "127.0.0.1", String(ports[0])], strangerTls)).toBe("OK");
      const member = nodes.find((n) => n.port === ports[0]) as NodeProcess;
      await waitForLog(member, "bus-tls-refused");
      await waitForLog(stranger, "bus-tls-refused", { error: "self-signed certificate in certificate chain" });
      for (let i = 0; i < 10; i++) {
        for (const q of ports) expect(await tlsAsk(q, ["CLUSTER", "NODES"])).not.toContain(`:${p}@`);
        await sleep(200);
      }
      expect(await tlsAsk(ports[0] as number, ["CLUSTER", "INFO"])).toContain("cluster_known_nodes:3");
    });
  });
});
