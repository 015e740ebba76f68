// How Raft members talk on real TCP: links.ts's framed links between members, carrying RaftMsgs.
//
// The wire is the cluster bus's (frame.ts): length-prefixed frames with a version byte and a
// CRC-32 of the payload. A connection opens with the dialer's hello (`{"type":"hello","from":
// "<member id>"}`), so the listener knows who sends; every later frame is one RaftMsg as JSON.
// As on the bus, each pair of members has two connections, one each way.
//
// What arrives is checked with core/raft/types.ts's `isRaftMsg` before the node sees it: a frame
// whose JSON is not a Raft message is dropped and logged (`raft-bad-frame`, at most once per
// connection per second, with a count), the connection kept. A frame the reader cannot split
// (bad length, version or CRC) leaves the stream unusable: the connection is closed.
//
// A member whose address is not known (yet: one added later is looked up in the store's address
// book) is logged once (`raft-unknown-member`) and looked up again a second later. A link with
// 64 MiB unsent is dropped; a connect that has not completed within `connectTimeoutMs` is
// abandoned. Members use no TLS and no secret yet (the bus's `LinkSecurity` would give them both).

import type { NodeId } from "../core/machine.js";
import { isRaftMsg, type RaftMsg } from "../core/raft/types.js";
import { encodeFrame } from "./frame.js";
import { type HostPort, Links } from "./links.js";
import type { NodeLog } from "./log.js";

export type { HostPort } from "./links.js";

/** One RaftMsg as a frame. */
export function raftFrame(msg: RaftMsg): Buffer {
  return encodeFrame(Buffer.from(JSON.stringify(msg), "utf8"));
}

/** A frame's payload as a RaftMsg, or why it is not one (the shape is checked field by field). */
export function decodeRaftPayload(payload: Buffer): { ok: true; msg: RaftMsg } | { ok: false; error: string } {
  let v: unknown;
  try {
    v = JSON.parse(payload.toString("utf8"));
  } catch {
    return { ok: false, error: "payload is not JSON" };
  }
  if (isRaftMsg(v)) return { ok: true, msg: v };
  const type = typeof v === "object" && v !== null && "type" in v ? String((v as { type: unknown }).type).slice(0, 40) : null;
  return { ok: false, error: type === null ? "payload is not a Raft message" : `malformed ${JSON.stringify(type)} message` };
}

export class RaftNet extends Links<RaftMsg> {
  constructor(
    self: NodeId,
    /** The Raft address of a member, or null when it is not known (yet). */
    addressOf: (id: NodeId) => HostPort | null,
    connectTimeoutMs: number,
    onMessage: (from: NodeId, msg: RaftMsg) => void,
    log: NodeLog,
  ) {
    const kind = { name: "raft", bufferBytesMax: 64 * 1024 * 1024, badMessage: "drop", noTarget: { event: "raft-unknown-member", retryMs: 1_000 }, target: addressOf, encode: raftFrame, decode: decodeRaftPayload } as const;
    super(kind, self, connectTimeoutMs, onMessage, log);
  }
}
