// The cluster bus on real TCP: links.ts's framed links between nodes, carrying ClusterMsgs.
//
// As in Redis each pair of nodes has two connections, one each way. Addresses are the nodes'
// client addresses ("ip:port"); the bus of "ip:port" is at ip:(port + 10000), Redis's convention.
// With a bus secret (cluster-bus-secret) both sides of every connection prove they hold it before
// any ClusterMsg goes either way; with tls-cluster both sides also present certificates signed by
// the CA (tls.ts), so the bus is mutually authenticated TLS.
//
// What arrives is checked field by field (frame.ts's decodeMessage): a frame that is not a
// ClusterMsg drops the connection, since the peer is broken or another version. A link with
// 256 MiB unsent is dropped, and a connect that has not completed within the node timeout is
// abandoned, as Redis frees a link stuck connecting for node_timeout. An address with no port is
// logged (bus-bad-address) and never dialled.

import type { NodeId } from "../core/machine.js";
import type { ClusterMsg } from "../core/cluster/types.js";
import { decodeMessage, messageFrame } from "./frame.js";
import { type LinkKind, Links, type LinkSecurity, PLAIN } from "./links.js";
import type { NodeLog } from "./log.js";

/** Redis's CLUSTER_PORT_INCR. */
export const BUS_PORT_OFFSET = 10000;

/** How the bus authenticates its links: tls-cluster and cluster-bus-secret. */
export type BusSecurity = LinkSecurity;

const BUS: LinkKind<ClusterMsg> = {
  name: "bus",
  // Redis's cluster-link-sendbuf-limit is off by default; an unbounded buffer is not.
  bufferBytesMax: 256 * 1024 * 1024,
  badMessage: "close",
  noTarget: { event: "bus-bad-address", retryMs: Number.POSITIVE_INFINITY },
  target: busTarget,
  encode: messageFrame,
  decode: decodeMessage,
};

export class Bus extends Links<ClusterMsg> {
  constructor(self: NodeId, connectTimeoutMs: number, onMessage: (from: NodeId, msg: ClusterMsg) => void, log: NodeLog, security: BusSecurity = PLAIN) {
    super(BUS, self, connectTimeoutMs, onMessage, log, security);
  }
}

/** Where the bus of node address "ip:port" listens, or null when the address has no port. */
export function busTarget(address: NodeId): { host: string; port: number } | null {
  const colon = address.lastIndexOf(":");
  if (colon <= 0) return null;
  let host = address.slice(0, colon);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  const portText = address.slice(colon + 1);
  if (!/^\d{1,5}$/.test(portText)) return null;
  const port = Number(portText) + BUS_PORT_OFFSET;
  return port <= 65535 ? { host, port } : null;
}
