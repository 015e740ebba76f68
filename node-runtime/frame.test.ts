import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import { SlotSet } from "../core/cluster/slots.js";
import type { ClusterMsg, Header } from "../core/cluster/types.js";
import { decodeHello, decodeMessage, DialerHandshake, encodeFrame, FRAME_HEADER_BYTES, FRAME_PAYLOAD_BYTES_MAX, FrameReader, type HandshakeStep, handshakeProof, helloFrame, ListenerHandshake, messageFrame, NONCE_BYTES } from "./frame.js";

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
    expect(decodeHello(Buffer.from('{"type":"hello","from":"127.0.0.1:7000"}'))).toEqual({ ok: true, from: "127.0.0.1:7000", nonce: null });
    expect(decodeHello(Buffer.from(`{"type":"hello","from":"127.0.0.1:7000","nonce":"${"ab".repeat(32)}"}`))).toEqual({ ok: true, from: "127.0.0.1:7000", nonce: Buffer.alloc(32, 0xab) });
    expect(decodeHello(Buffer.from('{"type":"hello","from":"127.0.0.1:7000","nonce":"abc"}'))).toEqual({ ok: false, error: "hello: bad nonce" });
    expect(decodeHello(Buffer.from('{"type":"repl-reset"}'))).toEqual({ ok: false, error: "the first frame is not a hello" });
    expect(decodeHello(Buffer.from('{"type":"hello","from":""}'))).toEqual({ ok: false, error: "the first frame is not a hello" });
  });
});

describe("the bus handshake", () => {
  const D = "127.0.0.1:7000";
  const L = "127.0.0.1:7001";
  const secret = Buffer.from("correct horse");
  /** Distinct nonces, so a test can tell whose is whose. */
  const nonce = (byte: number) => Buffer.alloc(NONCE_BYTES, byte);

  /** The payload of one frame. */
  function payloadOf(frame: Buffer): Buffer {
    const { payloads, error } = readAll([frame], frame.length);
    expect(error).toBeNull();
    return payloads[0] as Buffer;
  }

  /**
   * Runs a dialer and a listener against each other, frame by frame; returns each side's last
   * step and every frame the dialer sent (what an eavesdropper records).
   */
  function run(dialer: DialerHandshake, listener: ListenerHandshake): { dialer: HandshakeStep | null; listener: HandshakeStep; sent: Buffer[] } {
    const sent = [dialer.hello()];
    let toListener: Buffer | null = sent[0] as Buffer;
    let d: HandshakeStep | null = null;
    let l: HandshakeStep = { kind: "more", send: null };
    for (let round = 0; round < 4 && toListener !== null; round++) {
      l = listener.receive(payloadOf(toListener));
      toListener = null;
      if (l.send === null) break;
      d = dialer.receive(payloadOf(l.send));
      if (l.kind !== "more" || d.send === null) break;
      sent.push(d.send);
      toListener = d.send;
    }
    return { dialer: d, listener: l, sent };
  }

  it("with no secret on either side is the hello alone", () => {
    const dialer = new DialerHandshake(D, L, null, nonce(1));
    expect(dialer.ready).toBe(true);
    expect(payloadOf(dialer.hello()).toString()).toBe(`{"type":"hello","from":"${D}"}`);
    const listener = new ListenerHandshake(L, null, nonce(2));
    expect(listener.receive(payloadOf(dialer.hello()))).toEqual({ kind: "ready", send: null });
    expect(listener.from).toBe(D);
  });

  it("with the same secret: both sides prove it over both nonces, both addresses and the direction, and become ready", () => {
    const dialer = new DialerHandshake(D, L, secret, nonce(1));
    const listener = new ListenerHandshake(L, secret, nonce(2));
    expect(dialer.ready).toBe(false);
    const r = run(dialer, listener);
    expect(r.listener.kind).toBe("ready");
    expect(r.dialer?.kind).toBe("ready");
    expect(dialer.ready && listener.ready).toBe(true);
    expect(listener.from).toBe(D);
    // What went over the wire: the hello with the dialer's nonce, then its proof; never the secret.
    const wire = r.sent.map((f) => JSON.parse(payloadOf(f).toString()) as Record<string, string>);
    expect(wire).toEqual([
      { type: "hello", from: D, nonce: nonce(1).toString("hex") },
      { type: "proof", proof: handshakeProof(secret, "dialer", D, L, nonce(1), nonce(2)).toString("hex") },
    ]);
    expect(Buffer.concat(r.sent).includes(secret)).toBe(false);
    // The proof of each direction differs, so one side's proof cannot be reflected back as the other's.
    expect(handshakeProof(secret, "listener", D, L, nonce(1), nonce(2)).equals(handshakeProof(secret, "dialer", D, L, nonce(1), nonce(2)))).toBe(false);
  });

  it("with different secrets: the listener refuses the dialer's proof, says why, and the dialer is never ready", () => {
    const dialer = new DialerHandshake(D, L, Buffer.from("wrong"), nonce(1));
    const listener = new ListenerHandshake(L, secret, nonce(2));
    const r = run(dialer, listener);
    expect(r.listener).toMatchObject({ kind: "failed", auth: true, error: "bus secret mismatch" });
    expect(r.dialer).toEqual({ kind: "failed", auth: true, error: "refused by the listener: bus secret mismatch", send: null });
    expect(listener.ready || dialer.ready).toBe(false);
  });

  it("refuses a dialer without a secret at a listener with one, and the other way round", () => {
    const noSecret = run(new DialerHandshake(D, L, null, nonce(1)), new ListenerHandshake(L, secret, nonce(2)));
    expect(noSecret.listener).toMatchObject({ kind: "failed", auth: true, error: "the dialer has no bus secret and the listener requires one" });
    expect(noSecret.dialer).toMatchObject({ kind: "failed", auth: true, error: "refused by the listener: the dialer has no bus secret and the listener requires one" });
    const listenerNone = run(new DialerHandshake(D, L, secret, nonce(1)), new ListenerHandshake(L, null, nonce(2)));
    expect(listenerNone.listener).toMatchObject({ kind: "failed", auth: true, error: "the dialer uses a bus secret and the listener has none" });
    expect(listenerNone.dialer).toMatchObject({ kind: "failed", auth: true, error: "refused by the listener: the dialer uses a bus secret and the listener has none" });
  });

  it("refuses a recorded handshake replayed on a new connection: the listener's fresh nonce changes the proof it expects", () => {
    const recorded = run(new DialerHandshake(D, L, secret, nonce(1)), new ListenerHandshake(L, secret, nonce(2))).sent;
    const listener = new ListenerHandshake(L, secret, nonce(3));
    expect(listener.receive(payloadOf(recorded[0] as Buffer)).kind).toBe("more");
    expect(listener.receive(payloadOf(recorded[1] as Buffer))).toMatchObject({ kind: "failed", auth: true, error: "bus secret mismatch" });
    expect(listener.ready).toBe(false);
  });

  it("refuses a listener's recorded answers replayed to a dialer: its fresh nonce changes the proof it expects", () => {
    const listenerSent: Buffer[] = [];
    const first = new ListenerHandshake(L, secret, nonce(2));
    const dialer1 = new DialerHandshake(D, L, secret, nonce(1));
    let step = first.receive(payloadOf(dialer1.hello()));
    listenerSent.push(step.send as Buffer);
    step = first.receive(payloadOf(dialer1.receive(payloadOf(step.send as Buffer)).send as Buffer));
    listenerSent.push(step.send as Buffer);
    const dialer2 = new DialerHandshake(D, L, secret, nonce(4));
    expect(dialer2.receive(payloadOf(listenerSent[0] as Buffer)).kind).toBe("more");
    expect(dialer2.receive(payloadOf(listenerSent[1] as Buffer))).toMatchObject({ kind: "failed", auth: true, error: "bus secret mismatch (the listener's proof is wrong)" });
    expect(dialer2.ready).toBe(false);
  });

  it("binds the proof to the addresses: a proof for another listener is refused", () => {
    const dialer = new DialerHandshake(D, "127.0.0.1:7999", secret, nonce(1));
    const r = run(dialer, new ListenerHandshake(L, secret, nonce(2)));
    expect(r.listener).toMatchObject({ kind: "failed", error: "bus secret mismatch" });
  });

  it.each([
    ["a message instead of the hello", () => messageFrame({ type: "repl-reset" }), "the first frame is not a hello", false],
    ["a challenge from the dialer", () => encodeFrame(Buffer.from(`{"type":"challenge","nonce":"${nonce(9).toString("hex")}"}`)), "the first frame is not a hello", false],
  ])("treats %s as a bad frame", (_what, frame, error, auth) => {
    expect(new ListenerHandshake(L, secret, nonce(2)).receive(payloadOf(frame()))).toMatchObject({ kind: "failed", error, auth });
  });

  it("refuses junk where a proof or a challenge belongs", () => {
    const listener = new ListenerHandshake(L, secret, nonce(2));
    listener.receive(payloadOf(new DialerHandshake(D, L, secret, nonce(1)).hello()));
    expect(listener.receive(Buffer.from('{"type":"proof","proof":"00"}'))).toMatchObject({ kind: "failed", auth: true, error: "expected the dialer's proof" });
    const dialer = new DialerHandshake(D, L, secret, nonce(1));
    expect(dialer.receive(Buffer.from("{"))).toMatchObject({ kind: "failed", auth: true, error: "expected a challenge from the listener" });
    expect(new DialerHandshake(D, L, null, nonce(1)).receive(Buffer.from('{"type":"challenge"}'))).toMatchObject({ kind: "failed", auth: false, error: "the listener sent a frame on an outbound link" });
  });
});
