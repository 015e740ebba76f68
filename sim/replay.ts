// Determinism self-check: re-run a trace's scenario and seed and compare the bytes.

import type { TraceHeader } from "../core/trace.js";
import { TRACE_VERSION } from "../core/trace.js";
import { Run } from "./run.js";
import { loadScenario } from "./scenario/load.js";
import { CompareSink, LineReader } from "./trace-sink.js";

export interface ReplayResult {
  readonly header: TraceHeader;
  readonly lines: number;
  readonly identical: boolean;
  readonly mismatch: { readonly line: number; readonly expected: string | null; readonly actual: string | null } | null;
}

export class TraceFileError extends Error {}

export function readHeader(path: string): TraceHeader {
  const reader = new LineReader(path);
  try {
    const first = reader.next();
    if (first === null || first === "") throw new TraceFileError(`${path}: empty file, not a trace`);
    let h: unknown;
    try {
      h = JSON.parse(first);
    } catch {
      throw new TraceFileError(`${path}:1: not a trace (the first line is not JSON)`);
    }
    const header = h as Partial<TraceHeader>;
    if (header.type !== "header" || header.v === undefined) throw new TraceFileError(`${path}:1: not a trace (no header line)`);
    if (header.v !== TRACE_VERSION) throw new TraceFileError(`${path}: trace format v${String(header.v)}; this faultline reads v${TRACE_VERSION}`);
    if (header.scenario?.source === undefined || header.seed === undefined) throw new TraceFileError(`${path}:1: the header lacks the scenario or the seed`);
    return header as TraceHeader;
  } finally {
    reader.close();
  }
}

/** Replays, comparing as it goes; `onProgress` gets the fraction done. */
export async function replay(path: string, onProgress?: (fraction: number) => void): Promise<ReplayResult> {
  const header = readHeader(path);
  const scenario = loadScenario(header.scenario.file, header.scenario.source);
  const sink = new CompareSink(new LineReader(path));
  const run = new Run(scenario, { seed: header.seed, detail: header.detail, sink });
  while (run.step(200_000) && sink.mismatch === null) {
    onProgress?.(run.progress);
    await new Promise((r) => setImmediate(r));
  }
  run.finish();
  return { header, lines: sink.lineNo, identical: sink.mismatch === null, mismatch: sink.mismatch };
}
