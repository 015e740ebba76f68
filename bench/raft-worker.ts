// A worker thread of the raft-election sweep: times its seeds and posts each result.

import { parentPort, workerData } from "node:worker_threads";
import { type ElectionSetup, timeElection } from "./raft.js";

const { setup, seeds } = workerData as { setup: ElectionSetup; seeds: number[] };
for (const seed of seeds) parentPort?.postMessage(timeElection(setup, seed));
