// A worker thread of the failover sweep: times its seeds and posts each result.

import { parentPort, workerData } from "node:worker_threads";
import { timeFailover } from "./cluster.js";

const { seeds, nodeTimeoutMs } = workerData as { seeds: number[]; nodeTimeoutMs: number };
for (const seed of seeds) parentPort?.postMessage(timeFailover(seed, nodeTimeoutMs));
