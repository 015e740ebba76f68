// One palette for every panel: roles fill a node, flags outline it, owners colour the slot bar,
// message types colour arrows.

import * as d3 from "d3";

export const ROLE_FILL: Readonly<Record<string, string>> = {
  master: "#2b6cb0",
  replica: "#68a063",
  leader: "#2b6cb0",
  candidate: "#b7791f",
  "pre-candidate": "#d69e2e",
  follower: "#68a063",
};
export const UNKNOWN_FILL = "#a0aec0";
export const CRASHED_FILL = "#4a4a4a";

/** Outline per flag, strongest first: the first that applies wins. */
export const FLAG_STROKE: readonly (readonly [string, string])[] = [
  ["fail", "#e53e3e"],
  ["pfail", "#dd6b20"],
  ["partitioned", "#805ad5"],
  ["paused", "#805ad5"],
  ["handshake", "#d69e2e"],
];

export const OUTCOME_FILL: Readonly<Record<string, string>> = { ok: "#68a063", fail: "#e53e3e", info: "#dd8b20", open: "#dd8b20" };
export const DROP_COLOR = "#e53e3e";

/** A stable colour per node, by its position in the trace's node list. */
export function nodeColors(nodes: readonly string[]): (node: string | null) => string {
  const scale = d3.scaleOrdinal<string, string>([...d3.schemeTableau10, ...d3.schemeSet3]).domain(nodes);
  return (node) => (node === null ? "#e2e8f0" : scale(node));
}

/** A stable colour per message type. */
export function typeColors(types: readonly string[]): (type: string) => string {
  const scale = d3.scaleOrdinal<string, string>([...d3.schemeDark2, ...d3.schemeTableau10]).domain(types);
  return (type) => scale(type);
}
