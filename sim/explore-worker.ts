// A worker thread of `sim explore`: receives seeds, answers with their outcomes.

import { parentPort, workerData } from "node:worker_threads";
import { runSeed } from "./explore.js";

const { path, source } = workerData as { path: string; source: string };
parentPort?.on("message", (seed: number) => {
  parentPort?.postMessage(runSeed(path, source, seed));
});
