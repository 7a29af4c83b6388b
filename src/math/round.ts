/**
 * Rounds to `digits` decimals (half away from zero for positive values, as `Math.round`), for values written to
 * reports and to the synthetic clinical table.
 */
export function round(v: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}
