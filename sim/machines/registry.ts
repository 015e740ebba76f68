// The protocols a scenario can name in `machine:`.

import type { MachineAdapter } from "./adapter.js";
import { clusterAdapter } from "./cluster.js";
import { raftAdapter } from "./raft.js";
import { toyLeaderAdapter } from "./toy-leader.js";

const adapters: readonly MachineAdapter<never>[] = [clusterAdapter as MachineAdapter<never>, toyLeaderAdapter as MachineAdapter<never>, raftAdapter as MachineAdapter<never>];

export function findAdapter(name: string): MachineAdapter<unknown> | undefined {
  return adapters.find((a) => a.name === name) as MachineAdapter<unknown> | undefined;
}

export function adapterNames(): string[] {
  return adapters.map((a) => a.name);
}
