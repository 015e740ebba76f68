// Glob-style matching exactly as Redis's stringmatchlen (util.c): `*`, `?`, `[abc]`, `[^a]`,
// `[a-z]` (ends swapped when reversed), `\x` escapes, and an unclosed `[` that matches as if the
// class ended at the pattern's end. Works on byte strings, byte by byte.

/** Whether byte string `s` matches `pattern`, case-sensitively (KEYS, SCAN MATCH). */
export function globMatch(pattern: string, s: string): boolean {
  return matchFrom(pattern, 0, s, 0, 0);
}

/** Recursion depth bound on `*`: Redis 7 caps stringmatchlen's nesting the same way. */
const STAR_NESTING_MAX = 1000;

function matchFrom(p: string, pi: number, s: string, si: number, nesting: number): boolean {
  if (nesting > STAR_NESTING_MAX) return false;
  const pEnd = p.length;
  const sEnd = s.length;
  while (pi < pEnd) {
    const c = p[pi];
    if (c === "*") {
      while (p[pi + 1] === "*") pi++;
      if (pi + 1 === pEnd) return true;
      while (si < sEnd) {
        if (matchFrom(p, pi + 1, s, si, nesting + 1)) return true;
        si++;
      }
      return false;
    } else if (c === "?") {
      if (si >= sEnd) return false;
      si++;
    } else if (c === "[") {
      pi++;
      const not = p[pi] === "^";
      if (not) pi++;
      let match = false;
      const sc = si < sEnd ? s.charCodeAt(si) : -1;
      for (;;) {
        if (p[pi] === "\\" && pi + 1 < pEnd) {
          pi++;
          if (p.charCodeAt(pi) === sc) match = true;
        } else if (p[pi] === "]") {
          break;
        } else if (pi >= pEnd) {
          pi--;
          break;
        } else if (p[pi + 1] === "-" && pEnd - pi >= 3) {
          let start = p.charCodeAt(pi);
          let end = p.charCodeAt(pi + 2);
          if (start > end) [start, end] = [end, start];
          pi += 2;
          if (sc >= start && sc <= end) match = true;
        } else if (p.charCodeAt(pi) === sc) {
          match = true;
        }
        pi++;
      }
      if (not) match = !match;
      if (!match || si >= sEnd) return false;
      si++;
    } else {
      if (c === "\\" && pEnd - pi >= 2) pi++;
      if (si >= sEnd || p[pi] !== s[si]) return false;
      si++;
    }
    pi++;
    if (si >= sEnd) {
      while (p[pi] === "*") pi++;
      break;
    }
  }
  return pi >= pEnd && si >= sEnd;
}
