// Delay distributions for network links and disks, sampled in integer microseconds (≥ 1 µs).

import type { Stream } from "./random.js";

export type Distribution =
  | { readonly dist: "constant"; readonly ms: number }
  | { readonly dist: "uniform"; readonly minMs: number; readonly maxMs: number }
  | { readonly dist: "normal"; readonly meanMs: number; readonly sdMs: number; readonly minMs?: number | undefined }
  | { readonly dist: "lognormal"; readonly medianMs: number; readonly sigma: number; readonly maxMs?: number | undefined }
  | { readonly dist: "exponential"; readonly meanMs: number; readonly maxMs?: number | undefined };

const US_MIN = 1;

export function sampleUs(d: Distribution, s: Stream): number {
  let ms: number;
  switch (d.dist) {
    case "constant":
      ms = d.ms;
      break;
    case "uniform":
      ms = s.uniform(d.minMs, d.maxMs);
      break;
    case "normal":
      ms = Math.max(d.minMs ?? 0, s.normal(d.meanMs, d.sdMs));
      break;
    case "lognormal":
      ms = Math.min(d.maxMs ?? Infinity, d.medianMs * Math.exp(s.normal(0, d.sigma)));
      break;
    case "exponential":
      ms = Math.min(d.maxMs ?? Infinity, -Math.log(1 - s.next()) * d.meanMs);
      break;
  }
  return Math.max(US_MIN, Math.round(ms * 1000));
}

export function describe(d: Distribution): string {
  switch (d.dist) {
    case "constant":
      return `${d.ms} ms`;
    case "uniform":
      return `uniform ${d.minMs}–${d.maxMs} ms`;
    case "normal":
      return `normal μ=${d.meanMs} σ=${d.sdMs} ms`;
    case "lognormal":
      return `lognormal median ${d.medianMs} ms σ=${d.sigma}`;
    case "exponential":
      return `exponential mean ${d.meanMs} ms`;
  }
}
