/** Three-vectors (mm, patient or voxel axes) for scan geometry: DICOM orientation, NIfTI affine columns. */

/** Dot product of two 3-vectors. */
export function dot3(a: readonly number[], b: readonly number[]): number {
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

/** Cross product a x b (for DICOM: row direction x column direction = the slice normal). */
export function cross3(a: readonly number[], b: readonly number[]): number[] {
  return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
}

/** Euclidean length of a 3-vector. */
export function norm3(a: readonly number[]): number {
  return Math.sqrt(dot3(a, a));
}
