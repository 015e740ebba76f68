// The cluster bus on the wire: frames, the connection handshake, and ClusterMsg ⇄ JSON.
//
// A frame is
//
//   length  u32 big-endian   bytes of payload
//   version u8               FRAME_VERSION
//   crc     u32 big-endian   CRC-32 (zlib's) of the payload
//   payload JSON, UTF-8
//
// A connection opens with a handshake (`DialerHandshake`, `ListenerHandshake`): the dialer's
// hello names its NodeId (its client address, "ip:port"), so the receiver can say who a message
// is from: the connection's own source port is an ephemeral one. With a bus secret both sides
// also prove they hold it, with HMAC-SHA256 over fresh nonces from each side, both addresses and
// the direction, before any ClusterMsg is accepted; the secret itself never travels. Every later
// frame is one ClusterMsg. SlotSets (Header.slots, UPDATE's slots) travel as their `toString()`
// text and are rebuilt with `SlotSet.parse`; everything else in a ClusterMsg is JSON-safe (byte
// strings are JS strings whose chars are 0..255).
//
// Redis's bus is a binary struct (clusterMsg) with a "RCmb" signature and no authentication;
// ours is not wire-compatible with it and does not try to be: only Faultline nodes talk on it.

import { createHmac, timingSafeEqual } from "node:crypto";
import { crc32 } from "node:zlib";
import type { NodeId } from "../core/machine.js";
import { SlotSet } from "../core/cluster/slots.js";
import type { BusMsg, ClusterMsg, Header } from "../core/cluster/types.js";

export const FRAME_VERSION = 1;
export const FRAME_HEADER_BYTES = 9;
/**
 * Largest payload accepted. A full resync ships DUMP payloads in chunks of keys, and one key may
 * be large; beyond this the sender is broken or hostile.
 */
export const FRAME_PAYLOAD_BYTES_MAX = 256 * 1024 * 1024;

/** The first frame on a connection, from the dialer. `nonce` (hex) when it has a bus secret. */
export interface Hello {
  readonly type: "hello";
  readonly from: NodeId;
  readonly nonce?: string;
}

/** One frame's bytes. */
export function encodeFrame(payload: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payload.length);
  frame.writeUInt32BE(payload.length, 0);
  frame.writeUInt8(FRAME_VERSION, 4);
  frame.writeUInt32BE(crc32(payload), 5);
  payload.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

export function helloFrame(from: NodeId, nonce: Buffer | null = null): Buffer {
  const hello: Hello = nonce === null ? { type: "hello", from } : { type: "hello", from, nonce: nonce.toString("hex") };
  return jsonFrame(hello);
}

function jsonFrame(value: unknown): Buffer {
  return encodeFrame(Buffer.from(JSON.stringify(value), "utf8"));
}

export function messageFrame(msg: ClusterMsg): Buffer {
  return encodeFrame(Buffer.from(JSON.stringify(toWire(msg)), "utf8"));
}

/**
 * Splits a byte stream into frame payloads. `push` a chunk, then `next()` until null. A bad
 * length, version or CRC is terminal: `error` says what, and the caller drops the connection.
 */
export class FrameReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  error: string | null = null;

  push(chunk: Buffer): void {
    if (this.error !== null) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** The next complete payload, or null (more bytes needed, or `error` is set). */
  next(): Buffer | null {
    if (this.error !== null || this.buffered < FRAME_HEADER_BYTES) return null;
    const head = this.peek(FRAME_HEADER_BYTES);
    const length = head.readUInt32BE(0);
    const version = head.readUInt8(4);
    if (version !== FRAME_VERSION) return this.fail(`frame version ${version}, expected ${FRAME_VERSION}`);
    if (length > FRAME_PAYLOAD_BYTES_MAX) return this.fail(`frame of ${length} bytes is over the ${FRAME_PAYLOAD_BYTES_MAX}-byte limit`);
    if (this.buffered < FRAME_HEADER_BYTES + length) return null;
    const frame = this.take(FRAME_HEADER_BYTES + length);
    const payload = frame.subarray(FRAME_HEADER_BYTES);
    if (crc32(payload) !== head.readUInt32BE(5)) return this.fail("frame CRC mismatch");
    return payload;
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  private fail(what: string): null {
    this.error = what;
    this.chunks = [];
    this.buffered = 0;
    return null;
  }

  /** The first n bytes, without consuming them (n ≤ buffered). */
  private peek(n: number): Buffer {
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) return first;
    this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0] as Buffer;
  }

  /** Consumes the first n bytes (n ≤ buffered). */
  private take(n: number): Buffer {
    let out: Buffer;
    const first = this.chunks[0] as Buffer;
    if (first.length >= n) out = first.subarray(0, n);
    else {
      const all = Buffer.concat(this.chunks);
      this.chunks = [all];
      out = all.subarray(0, n);
    }
    const rest = (this.chunks[0] as Buffer).subarray(n);
    if (rest.length > 0) this.chunks[0] = rest;
    else this.chunks.shift();
    this.buffered -= n;
    return out;
  }
}

// ---- the handshake -------------------------------------------------------------------------------
//
// Without a secret the dialer's hello is the whole handshake. With one:
//
//   dialer → listener   {"type":"hello","from":D,"nonce":Nd}
//   listener → dialer   {"type":"challenge","nonce":Nl}
//   dialer → listener   {"type":"proof","proof":HMAC(secret, ["faultline-bus-auth-1","dialer",D,L,Nd,Nl])}
//   listener → dialer   {"type":"proof","proof":HMAC(secret, ["faultline-bus-auth-1","listener",D,L,Nd,Nl])}
//
// D is the dialer's address, L the listener's as each side knows it (the dialer: the address it
// dialled; the listener: its own), nonces are 32 random bytes in hex. The dialer proves first, so
// a process that merely connects to the bus port learns nothing that could test a guess of the
// secret; the dialer sends no ClusterMsg before the listener has proved too, so a process
// posing as a node's address receives none. Fresh nonces on both sides make a recorded
// handshake useless on another connection. A listener that refuses says why in
// {"type":"refused","reason":…} before closing.

/** Random bytes each side contributes per connection. */
export const NONCE_BYTES = 32;
/** HMAC-SHA256's length. */
const PROOF_BYTES = 32;
/** Names the protocol in what is MACed, so a proof is good for nothing else. */
const PROOF_LABEL = "faultline-bus-auth-1";

export const REFUSAL = {
  mismatch: "bus secret mismatch",
  dialerHasNone: "the dialer has no bus secret and the listener requires one",
  listenerHasNone: "the dialer uses a bus secret and the listener has none",
} as const;

/**
 * What one handshake frame led to: a frame to answer with (or null), and whether the link is now
 * ready for ClusterMsgs or failed. An `auth` failure is about the secret (logged bus-auth-failed),
 * any other is malformed input (bus-bad-frame). A failing listener's `send` is its refusal.
 */
export type HandshakeStep =
  | { readonly kind: "more"; readonly send: Buffer | null }
  | { readonly kind: "ready"; readonly send: Buffer | null }
  | { readonly kind: "failed"; readonly error: string; readonly auth: boolean; readonly send: Buffer | null };

/** HMAC-SHA256 by `secret` over the label, the direction, both addresses and both nonces. */
export function handshakeProof(secret: Buffer, direction: "dialer" | "listener", dialer: NodeId, listener: NodeId, dialerNonce: Buffer, listenerNonce: Buffer): Buffer {
  const transcript = JSON.stringify([PROOF_LABEL, direction, dialer, listener, dialerNonce.toString("hex"), listenerNonce.toString("hex")]);
  return createHmac("sha256", secret).update(transcript, "utf8").digest();
}

/** The dialer's side of a connection's handshake (an outbound link). */
export class DialerHandshake {
  /** What the next frame from the listener must be. */
  private state: "challenge" | "proof" | "ready";
  private listenerNonce: Buffer | null = null;

  /** `nonce`: NONCE_BYTES fresh random bytes (unused without a secret). */
  constructor(
    private readonly self: NodeId,
    private readonly to: NodeId,
    private readonly secret: Buffer | null,
    private readonly nonce: Buffer,
  ) {
    this.state = secret === null ? "ready" : "challenge";
  }

  /** Whether ClusterMsgs may be sent. */
  get ready(): boolean {
    return this.state === "ready";
  }

  /** The connection's first frame. */
  hello(): Buffer {
    return helloFrame(this.self, this.secret === null ? null : this.nonce);
  }

  receive(payload: Buffer): HandshakeStep {
    const v = parseJson(payload);
    if (isObject(v) && v["type"] === "refused") {
      const reason = typeof v["reason"] === "string" ? v["reason"].slice(0, 200) : "no reason given";
      return { kind: "failed", error: `refused by the listener: ${reason}`, auth: true, send: null };
    }
    const secret = this.secret;
    if (this.state === "ready" || secret === null) return { kind: "failed", error: "the listener sent a frame on an outbound link", auth: false, send: null };
    if (this.state === "challenge") {
      const nonce = isObject(v) && v["type"] === "challenge" ? hexField(v, "nonce", NONCE_BYTES) : null;
      if (nonce === null) return { kind: "failed", error: "expected a challenge from the listener", auth: true, send: null };
      this.listenerNonce = nonce;
      this.state = "proof";
      const proof = handshakeProof(secret, "dialer", this.self, this.to, this.nonce, nonce);
      return { kind: "more", send: jsonFrame({ type: "proof", proof: proof.toString("hex") }) };
    }
    const proof = isObject(v) && v["type"] === "proof" ? hexField(v, "proof", PROOF_BYTES) : null;
    if (proof === null) return { kind: "failed", error: "expected the listener's proof", auth: true, send: null };
    const expected = handshakeProof(secret, "listener", this.self, this.to, this.nonce, this.listenerNonce as Buffer);
    if (!timingSafeEqual(proof, expected)) return { kind: "failed", error: `${REFUSAL.mismatch} (the listener's proof is wrong)`, auth: true, send: null };
    this.state = "ready";
    return { kind: "ready", send: null };
  }
}

/** The listener's side of a connection's handshake (an inbound link). */
export class ListenerHandshake {
  private state: "hello" | "proof" | "ready" = "hello";
  private dialerNonce: Buffer | null = null;
  /** The dialer's address, once its hello arrived. */
  from: NodeId | null = null;

  /** `nonce`: NONCE_BYTES fresh random bytes (unused without a secret). */
  constructor(
    private readonly self: NodeId,
    private readonly secret: Buffer | null,
    private readonly nonce: Buffer,
  ) {}

  get ready(): boolean {
    return this.state === "ready";
  }

  receive(payload: Buffer): HandshakeStep {
    if (this.state === "ready") return { kind: "failed", error: "the handshake is over", auth: false, send: null };
    if (this.state === "hello") {
      const hello = decodeHello(payload);
      if (!hello.ok) return { kind: "failed", error: hello.error, auth: false, send: null };
      this.from = hello.from;
      if (this.secret === null && hello.nonce === null) {
        this.state = "ready";
        return { kind: "ready", send: null };
      }
      if (this.secret === null) return refuse(REFUSAL.listenerHasNone);
      if (hello.nonce === null) return refuse(REFUSAL.dialerHasNone);
      this.dialerNonce = hello.nonce;
      this.state = "proof";
      return { kind: "more", send: jsonFrame({ type: "challenge", nonce: this.nonce.toString("hex") }) };
    }
    const secret = this.secret as Buffer;
    const v = parseJson(payload);
    const proof = isObject(v) && v["type"] === "proof" ? hexField(v, "proof", PROOF_BYTES) : null;
    if (proof === null) return refuse("expected the dialer's proof");
    const from = this.from as NodeId;
    const dialerNonce = this.dialerNonce as Buffer;
    if (!timingSafeEqual(proof, handshakeProof(secret, "dialer", from, this.self, dialerNonce, this.nonce))) return refuse(REFUSAL.mismatch);
    this.state = "ready";
    const mine = handshakeProof(secret, "listener", from, this.self, dialerNonce, this.nonce);
    return { kind: "ready", send: jsonFrame({ type: "proof", proof: mine.toString("hex") }) };
  }
}

function refuse(reason: string): HandshakeStep {
  return { kind: "failed", error: reason, auth: true, send: jsonFrame({ type: "refused", reason }) };
}

/** A lower-case hex field of exactly `bytes` bytes, or null. */
function hexField(v: Record<string, unknown>, name: string, bytes: number): Buffer | null {
  const text = v[name];
  if (typeof text !== "string" || text.length !== bytes * 2 || !/^[0-9a-f]*$/.test(text)) return null;
  return Buffer.from(text, "hex");
}

// ---- ClusterMsg ⇄ JSON ---------------------------------------------------------------------------

type WireHeader = Omit<Header, "slots"> & { readonly slots: string };

/** The message with its SlotSets as text. */
function toWire(msg: ClusterMsg): unknown {
  if (!("h" in msg)) return msg;
  const h: WireHeader = { ...msg.h, slots: msg.h.slots.toString() };
  if (msg.type === "update") return { ...msg, h, slots: msg.slots.toString() };
  return { ...msg, h };
}

/** A hello payload's sender and nonce (null without a secret), or the reason it is not one. */
export function decodeHello(payload: Buffer): { ok: true; from: NodeId; nonce: Buffer | null } | { ok: false; error: string } {
  const v = parseJson(payload);
  if (!isObject(v) || v["type"] !== "hello" || typeof v["from"] !== "string" || v["from"].length === 0 || v["from"].length > 300) {
    return { ok: false, error: "the first frame is not a hello" };
  }
  if (v["nonce"] === undefined) return { ok: true, from: v["from"], nonce: null };
  const nonce = hexField(v, "nonce", NONCE_BYTES);
  return nonce === null ? { ok: false, error: "hello: bad nonce" } : { ok: true, from: v["from"], nonce };
}

/**
 * A message payload as a ClusterMsg, or the reason it is not one. The shape is checked field by
 * field, so a peer's bug (or another version) is an operating error here, never a crash in the node.
 */
export function decodeMessage(payload: Buffer): { ok: true; msg: ClusterMsg } | { ok: false; error: string } {
  const v = parseJson(payload);
  if (!isObject(v) || typeof v["type"] !== "string") return { ok: false, error: "payload is not a message object" };
  const type = v["type"];
  if (!Object.hasOwn(SHAPES, type)) return { ok: false, error: `unknown message type ${JSON.stringify(type.slice(0, 40))}` };
  const shape: Shape = SHAPES[type as ClusterMsg["type"]];
  const bad = checkFields(v, shape);
  if (bad !== null) return { ok: false, error: `${type}: ${bad}` };
  if (!("h" in shape)) return { ok: true, msg: v as unknown as ClusterMsg };
  const h = v["h"] as Record<string, unknown>;
  const slots = slotSet(h["slots"] as string);
  if (slots === null) return { ok: false, error: `${type}: bad h.slots` };
  const out: Record<string, unknown> = { ...v, h: { ...h, slots } };
  if (type === "update") {
    const updated = slotSet(v["slots"] as string);
    if (updated === null) return { ok: false, error: "update: bad slots" };
    out["slots"] = updated;
  }
  return { ok: true, msg: out as unknown as BusMsg };
}

function parseJson(payload: Buffer): unknown {
  try {
    return JSON.parse(payload.toString("utf8"));
  } catch {
    return undefined;
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Recently parsed slot texts: every PING carries its sender's slots, which rarely change. */
const slotMemo = new Map<string, SlotSet>();
const SLOT_MEMO_MAX = 4096;

function slotSet(text: string): SlotSet | null {
  const known = slotMemo.get(text);
  if (known !== undefined) return known;
  if (!/^(\d{1,5}(-\d{1,5})?(,\d{1,5}(-\d{1,5})?)*)?$/.test(text)) return null;
  let set: SlotSet;
  try {
    set = SlotSet.parse(text);
  } catch {
    return null; // a range out of 0..16383 or reversed
  }
  if (slotMemo.size >= SLOT_MEMO_MAX) slotMemo.clear();
  slotMemo.set(text, set);
  return set;
}

// Field kinds of each message type. `satisfies` makes a new message type in core/ fail to compile
// here until it is described.
type Kind = "string" | "number" | "boolean" | "string|null" | "number|null" | "strings" | Shape | readonly [Shape];
interface Shape {
  readonly [field: string]: Kind;
}

const HEADER: Shape = {
  sender: "string",
  currentEpoch: "number",
  configEpoch: "number",
  offset: "number",
  slots: "string",
  master: "string|null",
  flags: "number",
  state: "string",
  mflags: "number",
  priority: "number",
};
const GOSSIP: Shape = { name: "string", address: "string", pingSentS: "number", pongReceivedS: "number", flags: "number" };
const PING: Shape = { h: HEADER, gossip: [GOSSIP] };

const SHAPES = {
  ping: PING,
  pong: PING,
  meet: PING,
  fail: { h: HEADER, about: "string" },
  update: { h: HEADER, about: "string", configEpoch: "number", slots: "string" },
  "failover-auth-request": { h: HEADER },
  "failover-auth-ack": { h: HEADER },
  mfstart: { h: HEADER },
  publish: { h: HEADER, channel: "string", message: "string" },
  publishshard: { h: HEADER, channel: "string", message: "string" },
  psync: { replid: "string", offset: "number" },
  fullresync: { replid: "string", offset: "number" },
  snapshot: { entries: [{ key: "string", payload: "string", expireAtMs: "number|null" }] },
  "snapshot-end": {},
  continue: { replid: "string", offset: "number" },
  stream: { offset: "number", entries: [{ cmd: "strings", size: "number" }] },
  "repl-ping": { offset: "number" },
  "repl-getack": {},
  "repl-ack": { offset: "number" },
  "repl-reset": {},
  migrate: { id: "number", entries: [{ key: "string", payload: "string", ttlMs: "number" }], replace: "boolean" },
  "migrate-reply": { id: "number", error: "string|null" },
} as const satisfies Record<ClusterMsg["type"], Shape>;

/** The first field that does not match, as "path: what", or null. Extra fields are ignored. */
function checkFields(v: Record<string, unknown>, shape: Shape): string | null {
  for (const field of Object.keys(shape)) {
    const bad = checkValue(v[field], shape[field] as Kind);
    if (bad !== null) return `${field}${bad.startsWith(".") || bad.startsWith("[") ? "" : ": "}${bad}`;
  }
  return null;
}

function checkValue(x: unknown, kind: Kind): string | null {
  switch (kind) {
    case "string":
      return typeof x === "string" ? null : "not a string";
    case "number":
      return typeof x === "number" && Number.isFinite(x) ? null : "not a number";
    case "boolean":
      return typeof x === "boolean" ? null : "not a boolean";
    case "string|null":
      return x === null || typeof x === "string" ? null : "not a string or null";
    case "number|null":
      return x === null || (typeof x === "number" && Number.isFinite(x)) ? null : "not a number or null";
    case "strings":
      return Array.isArray(x) && x.every((s) => typeof s === "string") ? null : "not a list of strings";
    default:
      break;
  }
  if (Array.isArray(kind)) {
    if (!Array.isArray(x)) return "not a list";
    const item = kind[0] as Shape;
    for (let i = 0; i < x.length; i++) {
      const bad = isObject(x[i]) ? checkFields(x[i] as Record<string, unknown>, item) : "not an object";
      if (bad !== null) return `[${i}].${bad}`;
    }
    return null;
  }
  if (!isObject(x)) return "not an object";
  const bad = checkFields(x, kind as Shape);
  return bad === null ? null : `.${bad}`;
}
