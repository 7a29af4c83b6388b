import { PreprocessOptions, preprocessVolume, resolvePreprocessOptions, VolumeShape } from './preprocess';
import { Volume } from '../io/volume';

/** Labels of the synthetic cohort's lesion masks (`ICH_lesion_masks/<folder>/<id>_mask.nii.gz`). */
export const LESION_LABELS = { hematoma: 1, ivh: 2 } as const;

/**
 * A lesion mask in the network's geometry: the voxels carrying one of `labels` become 1, the rest 0, and the result
 * goes through the paper's geometric preprocessing (symmetric depth padding, area resize; no HU window), so each
 * output voxel holds the fraction of it covered by the lesion, in [0, 1], aligned with the preprocessed scan.
 * @param labels mask values counted as lesion (default: the hematoma, label 1).
 * @throws naming the file when the mask holds no labelled voxel.
 */
export function preprocessLesionMask(mask: Volume, labels: readonly number[] = [LESION_LABELS.hematoma], options: PreprocessOptions = {}): { data: Float32Array; shape: VolumeShape; voxels: number } {
  const o = resolvePreprocessOptions(options);
  const raw = mask.raw;
  const indicator = new Float32Array(raw.length);
  let voxels = 0;
  for (let i = 0; i < raw.length; i++) {
    if (labels.includes(raw[i] * mask.slope + mask.intercept)) {
      indicator[i] = 1;
      voxels++;
    }
  }
  if (voxels === 0) throw new Error(`lesion mask expected voxels labelled ${labels.join(' or ')}, got none (${mask.source})`);
  const out = preprocessVolume({ ...mask, raw: indicator, voxelType: 'float32', slope: 1, intercept: 0 }, { ...o, intensity: 'unit' });
  return { data: out.data, shape: out.shape, voxels };
}

/**
 * The voxel-to-world matrix of the preprocessed geometry (rows, mm), from the scan's own: output voxel (x, y, z) of a
 * [depth, height, width] volume sits at the centre of its area-resize box in the scan, and depth counts from the
 * first padding slice. Lets saliency maps be written as NIfTI that overlays the original scan in any viewer.
 */
export function preprocessedAffine(scan: Pick<Volume, 'dims' | 'affine'>, options: PreprocessOptions = {}): number[][] {
  const o = resolvePreprocessOptions(options);
  const [nx, ny, nz] = scan.dims;
  const [d1, h1, w1] = o.size;
  const depth = Math.max(nz, o.padDepth);
  const before = Math.floor((depth - nz) / 2);
  const sx = nx / w1;
  const sy = ny / h1;
  const sz = depth / d1;
  // scan index = scale * out index + offset (box centres), per axis
  const scale = [sx, sy, sz];
  const offset = [(sx - 1) / 2, (sy - 1) / 2, (sz - 1) / 2 - before];
  const a = scan.affine;
  return [0, 1, 2, 3].map((r) =>
    r === 3 ? [0, 0, 0, 1] : [0, 1, 2].map((c) => a[r][c] * scale[c]).concat([a[r][3] + a[r][0] * offset[0] + a[r][1] * offset[1] + a[r][2] * offset[2]]),
  );
}
