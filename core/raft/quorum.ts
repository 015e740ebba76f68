// Quorum arithmetic as pure functions over a voter list.

import type { NodeId } from "../machine.js";

export type VoteResult = "pending" | "won" | "lost";

export function majority(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/** An election's outcome so far: won with a majority of grants, lost once a majority cannot be reached. */
export function voteResult(voters: readonly NodeId[], granted: ReadonlySet<NodeId>, refused: ReadonlySet<NodeId>): VoteResult {
  let yes = 0;
  let no = 0;
  for (const v of voters) {
    if (granted.has(v)) yes++;
    else if (refused.has(v)) no++;
  }
  const need = majority(voters.length);
  if (yes >= need) return "won";
  return voters.length - no < need ? "lost" : "pending";
}

/**
 * The greatest value a majority of voters have reached (match indexes, acknowledged heartbeat
 * rounds): the majority-th largest. An empty voter list has no quorum: 0.
 */
export function quorumValue(voters: readonly NodeId[], valueOf: (voter: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const values = voters.map(valueOf).sort((a, b) => b - a);
  return values[majority(voters.length) - 1] as number;
}
