import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import { SlotSet } from "../core/cluster/slots.js";
import type { ClusterMsg, Header } from "../core/cluster/types.js";
import { decodeHello, decodeMessage, encodeFrame, FRAME_HEADER_BYTES, FRAME_PAYLOAD_BYTES_MAX, FrameReader, helloFrame, messageFrame } from "./frame.js";

const header: Header = {
  sender: "a".repeat(40),
  currentEpoch: 7,
  configEpoch: 3,
  offset: 1234,
  slots: SlotSet.fromRanges([
    [0, 5460],
    [16383, 16383],
  ]),
  master: null,
  flags: 1,
  state: "ok",
  mflags: 0,
  priority: 100,
};

/** Every payload of `frames` read back through one reader, fed `step` bytes at a time. */
function readAll(frames: readonly Buffer[], step: number): { payloads: Buffer[]; error: string | null } {
  const all = Buffer.concat(frames);
  const reader = new FrameReader();
  const payloads: Buffer[] = [];
  for (let i = 0; i < all.length; i += step) {
    reader.push(all.subarray(i, i + step));
    for (let p = reader.next(); p !== null; p = reader.next()) payloads.push(Buffer.from(p));
  }
  return { payloads, error: reader.error };
}

function decoded(msg: ClusterMsg): ClusterMsg {
  const { payloads } = readAll([messageFrame(msg)], 1 << 20);
  const r = decodeMessage(payloads[0] as Buffer);
  if (!r.ok) throw new Error(r.error);
  return r.msg;
}

describe("frames", () => {
  it("lays out length, version, CRC-32 and payload", () => {
    const f = encodeFrame(Buffer.from("{}"));
    expect(f.length).toBe(FRAME_HEADER_BYTES + 2);
    expect([...f.subarray(0, 5)]).toEqual([0, 0, 0, 2, 1]);
    expect(f.readUInt32BE(5)).toBe(crc32(Buffer.from("{}")));
    expect(f.subarray(FRAME_HEADER_BYTES).toString()).toBe("{}");
  });

  it.each([1, 2, 3, 7, 1000])("reads the same frames whatever the chunking (%i bytes at a time)", (step) => {
    const frames = [helloFrame("127.0.0.1:7000"), messageFrame({ type: "repl-ack", offset: 5 }), encodeFrame(Buffer.alloc(0))];
    const { payloads, error } = readAll(frames, step);
    expect(error).toBeNull();
    expect(payloads.map((p) => p.toString())).toEqual(['{"type":"hello","from":"127.0.0.1:7000"}', '{"type":"repl-ack","offset":5}', ""]);
  });

  it.each([
    ["a bad CRC", (f: Buffer) => f.writeUInt32BE((f.readUInt32BE(5) + 1) >>> 0, 5), "frame CRC mismatch"],
    ["another version", (f: Buffer) => f.writeUInt8(2, 4), "frame version 2, expected 1"],
    ["a length over the limit", (f: Buffer) => f.writeUInt32BE(FRAME_PAYLOAD_BYTES_MAX + 1, 0), `frame of ${FRAME_PAYLOAD_BYTES_MAX + 1} bytes is over the ${FRAME_PAYLOAD_BYTES_MAX}-byte limit`],
  ])("stops at %s, after the good frames before it", (_what, damage, error) => {
    const bad = messageFrame({ type: "repl-getack" });
    damage(bad);
    const r = readAll([messageFrame({ type: "repl-reset" }), bad, messageFrame({ type: "repl-reset" })], 3);
    expect(r.error).toBe(error);
    expect(r.payloads.length).toBe(1);
  });
});

describe("messages on the wire", () => {
  it("rebuilds SlotSets in headers and UPDATE", () => {
    const ping = decoded({ type: "ping", h: header, gossip: [{ name: "b".repeat(40), address: "127.0.0.1:7001", pingSentS: 1, pongReceivedS: 2, flags: 2 }] });
    expect(ping.type === "ping" && ping.h.slots instanceof SlotSet && ping.h.slots.toString() === "0-5460,16383" && ping.h.slots.size === 5462).toBe(true);
    expect(ping).toEqual({ type: "ping", h: header, gossip: [{ name: "b".repeat(40), address: "127.0.0.1:7001", pingSentS: 1, pongReceivedS: 2, flags: 2 }] });
    const update = decoded({ type: "update", h: { ...header, slots: SlotSet.EMPTY }, about: "c".repeat(40), configEpoch: 9, slots: SlotSet.of([42]) });
    expect(update.type === "update" && update.slots.toString() === "42" && update.h.slots === SlotSet.EMPTY).toBe(true);
  });

  it("carries byte strings (chars 0..255) through JSON unchanged", () => {
    const key = "\x00\xff\x80k\r\n";
    const msg: ClusterMsg = { type: "stream", offset: 10, entries: [{ cmd: ["SET", key, "\xfe"], size: 30 }] };
    expect(decoded(msg)).toEqual(msg);
    expect(decoded({ type: "migrate", id: 1, entries: [{ key, payload: "\x01\x02", ttlMs: 0 }], replace: true })).toEqual({ type: "migrate", id: 1, entries: [{ key, payload: "\x01\x02", ttlMs: 0 }], replace: true });
  });

  it.each([
    ["not JSON", "{", "payload is not a message object"],
    ["an array", "[]", "payload is not a message object"],
    ["an unknown type", '{"type":"gossip"}', 'unknown message type "gossip"'],
    ["a prototype key as type", '{"type":"constructor"}', 'unknown message type "constructor"'],
    ["a header field of the wrong type", JSON.stringify({ type: "fail", h: { ...header, slots: "", sender: 5 }, about: "x" }), "fail: h.sender: not a string"],
    ["a missing header", '{"type":"mfstart"}', "mfstart: h: not an object"],
    ["a bad gossip entry", JSON.stringify({ type: "pong", h: { ...header, slots: "" }, gossip: [{ name: "x" }] }), "pong: gossip[0].address: not a string"],
    ["slots out of range", JSON.stringify({ type: "ping", h: { ...header, slots: "0-16384" }, gossip: [] }), "ping: bad h.slots"],
    ["slots that are not ranges", JSON.stringify({ type: "ping", h: { ...header, slots: "a-b" }, gossip: [] }), "ping: bad h.slots"],
    ["an UPDATE with bad slots", JSON.stringify({ type: "update", h: { ...header, slots: "" }, about: "x", configEpoch: 1, slots: "9-1" }), "update: bad slots"],
    ["a non-finite number", '{"type":"repl-ack","offset":"1"}', "repl-ack: offset: not a number"],
    ["a command that is not strings", '{"type":"stream","offset":0,"entries":[{"cmd":["SET",1],"size":1}]}', "stream: entries[0].cmd: not a list of strings"],
  ])("refuses %s", (_what, payload, error) => {
    expect(decodeMessage(Buffer.from(payload))).toEqual({ ok: false, error });
  });

  it("reads a hello, and refuses anything else as the first frame", () => {
    expect(decodeHello(Buffer.from('{"type":"hello","from":"127.0.0.1:7000"}'))).toEqual({ ok: true, from: "127.0.0.1:7000" });
    expect(decodeHello(Buffer.from('{"type":"repl-reset"}'))).toEqual({ ok: false, error: "the first frame is not a hello" });
    expect(decodeHello(Buffer.from('{"type":"hello","from":""}'))).toEqual({ ok: false, error: "the first frame is not a hello" });
  });
});
