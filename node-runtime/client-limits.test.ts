import { describe, expect, it } from "vitest";
import { CLIENT_LIMITS_DEFAULT, outputLimitVerdict } from "./clients.js";

describe("client-output-buffer-limit pubsub (Redis's checkClientOutputBufferLimits)", () => {
  const limit = { hardBytes: 1000, softBytes: 100, softSeconds: 2 };

  it("breaks at once at the hard limit", () => {
    expect(outputLimitVerdict(limit, 1000, 5_000, null)).toEqual({ broken: "hard", softSinceMs: null });
    expect(outputLimitVerdict(limit, 999, 5_000, null)).toEqual({ broken: null, softSinceMs: 5_000 });
  });

  it("breaks at the soft limit only once output stayed at or above it for longer than the soft seconds", () => {
    let v = outputLimitVerdict(limit, 100, 10_000, null);
    expect(v).toEqual({ broken: null, softSinceMs: 10_000 });
    v = outputLimitVerdict(limit, 500, 12_000, v.softSinceMs);
    expect(v).toEqual({ broken: null, softSinceMs: 10_000 });
    v = outputLimitVerdict(limit, 500, 12_001, v.softSinceMs);
    expect(v).toEqual({ broken: "soft", softSinceMs: 10_000 });
  });

  it("restarts the soft clock when output drops below the soft limit", () => {
    const over = outputLimitVerdict(limit, 200, 10_000, null);
    const under = outputLimitVerdict(limit, 99, 11_000, over.softSinceMs);
    expect(under).toEqual({ broken: null, softSinceMs: null });
    expect(outputLimitVerdict(limit, 200, 13_000, under.softSinceMs)).toEqual({ broken: null, softSinceMs: 13_000 });
  });

  it("treats 0 as no limit", () => {
    expect(outputLimitVerdict({ hardBytes: 0, softBytes: 0, softSeconds: 0 }, 2 ** 40, 0, null)).toEqual({ broken: null, softSinceMs: null });
    expect(outputLimitVerdict({ hardBytes: 0, softBytes: 10, softSeconds: 0 }, 20, 1, 0)).toEqual({ broken: "soft", softSinceMs: 0 });
  });

  it("defaults to Redis's pubsub 32mb 8mb 60", () => {
    expect(CLIENT_LIMITS_DEFAULT.pubsub).toEqual({ hardBytes: 32 * 1024 * 1024, softBytes: 8 * 1024 * 1024, softSeconds: 60 });
  });
});
