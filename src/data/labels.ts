/** Auxiliary labels of the multi-task models (paper.md, "Splits and labels"). */

/** Binary GCS: 1 when GCS <= 8 (severe), else 0. @param gcs Glasgow Coma Scale 3-15. */
export function binaryGcs(gcs: number): 0 | 1 {
  checkGcs(gcs);
  return gcs <= 8 ? 1 : 0;
}

/**
 * Ordinal GCS as two cumulative bits: 13-15 -> [0, 0] (mild), 9-12 -> [1, 0] (moderate), 3-8 -> [1, 1] (severe).
 * @param gcs Glasgow Coma Scale 3-15.
 */
export function ordinalGcs(gcs: number): [0 | 1, 0 | 1] {
  checkGcs(gcs);
  if (gcs >= 13) return [0, 0];
  if (gcs >= 9) return [1, 0];
  return [1, 1];
}

/** Ordinal GCS class 0 (13-15), 1 (9-12) or 2 (3-8). */
export function gcsClass(gcs: number): 0 | 1 | 2 {
  const [a, b] = ordinalGcs(gcs);
  return (a + b) as 0 | 1 | 2;
}

/** Decodes the ordinal head's two sigmoid outputs as the number of bits above 0.5 (0, 1 or 2). */
export function decodeOrdinalGcs(probabilities: readonly [number, number]): 0 | 1 | 2 {
  return ((probabilities[0] > 0.5 ? 1 : 0) + (probabilities[1] > 0.5 ? 1 : 0)) as 0 | 1 | 2;
}

/** Binary age: 1 when age >= 80 years. */
export function binaryAge(age: number): 0 | 1 {
  if (!Number.isFinite(age)) throw new Error(`age expected a finite number of years, got ${age}`);
  return age >= 80 ? 1 : 0;
}

function checkGcs(gcs: number): void {
  if (!Number.isInteger(gcs) || gcs < 3 || gcs > 15) throw new Error(`GCS expected an integer 3-15, got ${gcs}`);
}
