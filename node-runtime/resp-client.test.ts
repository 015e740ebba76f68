// RespClient against a scripted server on 127.0.0.1: replies matched to requests in order however
// the bytes are split, error replies, and the connection errors an admin command reports.

import { createServer, type Server, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ConnectionError, ReplyError, RespClient, textOf } from "./resp-client.js";

let server: Server | null = null;
afterEach(async () => {
  await new Promise((r) => (server === null ? r(null) : server.close(r)));
  server = null;
});

/** A server that answers each complete request (counted by `*` headers) with the next scripted reply, a byte at a time. */
async function scripted(replies: readonly string[], onRequest: (raw: string) => void = () => {}): Promise<number> {
  const queue = [...replies];
  server = createServer((socket: Socket) => {
    let buffered = "";
    socket.on("data", (b: Buffer) => {
      buffered += b.toString("latin1");
      onRequest(b.toString("latin1"));
      // Requests here are small and arrive whole: one reply per `*` at a line start.
      const requests = buffered.split(/(?=^\*)/m).filter((r) => r !== "");
      buffered = "";
      for (const _ of requests) {
        const reply = queue.shift();
        if (reply === undefined) continue; // stay silent: a timeout
        for (const ch of reply) socket.write(Buffer.from(ch, "latin1"));
      }
    });
  });
  await new Promise<void>((r) => (server as Server).listen(0, "127.0.0.1", r));
  return (server.address() as { port: number }).port;
}

describe("RespClient", () => {
  it("pipelines requests and matches replies in order, split a byte at a time", async () => {
    const seen: string[] = [];
    const port = await scripted(["+PONG\r\n", "$11\r\nhello world\r\n", ":42\r\n"], (raw) => seen.push(raw));
    const c = await RespClient.connect("127.0.0.1", port);
    try {
      const [a, b, n] = await Promise.all([c.call(["PING"]), c.text(["ECHO", "hello world"]), c.call(["DBSIZE"])]);
      expect(a).toEqual({ type: "simple", value: "PONG" });
      expect(b).toBe("hello world");
      expect(n).toEqual({ type: "integer", value: 42 });
      expect(seen.join("")).toBe("*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$11\r\nhello world\r\n*1\r\n$6\r\nDBSIZE\r\n");
    } finally {
      c.close();
    }
  });

  it("returns an error reply from call, and rejects ok() with a ReplyError naming node, command and reply", async () => {
    const port = await scripted(["-ERR Slot 0 is already busy\r\n", "-ERR Slot 0 is already busy\r\n"]);
    const c = await RespClient.connect("127.0.0.1", port);
    try {
      expect(await c.call(["CLUSTER", "ADDSLOTS", "0"])).toEqual({ type: "error", value: "ERR Slot 0 is already busy" });
      const e = await c.ok(["CLUSTER", "ADDSLOTS", "0"]).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ReplyError);
      expect((e as ReplyError).message).toBe(`127.0.0.1:${port}: CLUSTER ADDSLOTS 0: ERR Slot 0 is already busy`);
    } finally {
      c.close();
    }
  });

  it("says a refused connection is refused, with a hint", async () => {
    const port = await scripted([]);
    await new Promise((r) => (server as Server).close(r));
    server = null;
    const e = await RespClient.connect("127.0.0.1", port).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConnectionError);
    expect((e as Error).message).toBe(`cannot connect to 127.0.0.1:${port}: ECONNREFUSED (is a node running there?)`);
  });

  it("gives up on a reply that does not come, and fails every later call on that connection", async () => {
    const port = await scripted([]);
    const c = await RespClient.connect("127.0.0.1", port);
    const e = await c.call(["PING"], 50).catch((x: unknown) => x);
    expect((e as Error).message).toBe(`127.0.0.1:${port}: no reply to PING within 50 ms`);
    await expect(c.call(["PING"])).rejects.toBeInstanceOf(ConnectionError);
  });

  it("textOf reads bulk, verbatim and simple replies and refuses others", () => {
    expect(textOf({ type: "verbatim", format: "txt", value: new TextEncoder().encode("a:b\r\n") })).toBe("a:b\r\n");
    expect(() => textOf({ type: "integer", value: 1 })).toThrow("expected text, got a reply of type integer");
  });
});
