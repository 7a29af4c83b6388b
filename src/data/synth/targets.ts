/** The cohort facts the synthetic generator reproduces (paper.md, "Cohort"). */

/** Patients with a scan in the real cohort; the clinical table has one more row (patient 213). */
export const REAL_PATIENTS_WITH_IMAGE = 261;
/** Poor-prognosis patients among those with a scan (62.1 %). */
export const REAL_POOR = 162;
/** GCS counts for scores 3..15 among the 261. */
export const GCS_COUNTS: readonly number[] = [22, 8, 9, 5, 8, 9, 8, 11, 52, 13, 13, 43, 60];
/** Slice counts per scan: [slices, patients]. */
export const SLICE_COUNTS: readonly [number, number][] = [
  [24, 2], [26, 3], [27, 8], [28, 103], [29, 3], [30, 10], [31, 10], [32, 96], [34, 1], [35, 4], [36, 5], [40, 2],
  [43, 1], [47, 10], [49, 1], [52, 1], [54, 1],
];
/** Spearman correlation of each variable with the label in the real table (the strongest ones). */
export const LABEL_SPEARMAN: Readonly<Record<string, number>> = {
  Age: 0.389,
  GCS: -0.343,
  RCDW: 0.3,
  Urea: 0.29,
  MH_CVD: 0.28,
  MH_neuro: 0.25,
  INR: 0.24,
  Creatinine: 0.23,
};
/** Scanners: [manufacturer, good, poor]. */
export const SCANNERS: readonly [string, number, number][] = [
  ['GE', 60, 103],
  ['Philips', 39, 59],
];

/**
 * Scales integer counts to a new total by largest remainder (ties to the earlier entry), so a smaller synthetic
 * cohort keeps the real histogram's shape; with the real total it returns the counts unchanged.
 */
export function scaleCounts(counts: readonly number[], total: number): number[] {
  const sum = counts.reduce((a, b) => a + b, 0);
  const exact = counts.map((c) => (c * total) / sum);
  const out = exact.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => ({ i, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) out[order[k].i]++;
  return out;
}
