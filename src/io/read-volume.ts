import * as path from 'node:path';
import { readNifti } from './nifti';
import { readNpy } from './npy';
import { allocateVoxels, Volume } from './volume';

/**
 * How a 3D .npy array's axes map to the scan: 'xyz' is nibabel's order (`np.save(path, img.get_fdata())`, the slice
 * axis last), 'zyx' is already [depth, height, width].
 */
export type NpyAxes = 'xyz' | 'zyx';

/** True for the file names the readers handle. */
export function isVolumeFile(file: string): boolean {
  return /\.(nii|nii\.gz|npy)$/i.test(file);
}

/**
 * Reads a .nii, .nii.gz or .npy scan into a {@link Volume} (x fastest, z = slice axis).
 * @param npyAxes axis order of .npy arrays (default 'xyz', nibabel's order).
 */
export async function readVolume(file: string, npyAxes: NpyAxes = 'xyz'): Promise<Volume> {
  const lower = file.toLowerCase();
  if (lower.endsWith('.nii') || lower.endsWith('.nii.gz')) return readNifti(file);
  if (!lower.endsWith('.npy')) {
    throw new Error(`volume file expected .nii, .nii.gz or .npy, got "${path.extname(file) || 'no extension'}" (${file})`);
  }
  const arr = readNpy(file);
  if (arr.shape.length !== 3) {
    throw new Error(`NPY volume expected 3 dimensions, got shape (${arr.shape.join(', ')}) (${file})`);
  }
  let dims: [number, number, number];
  let raw = arr.data;
  if (npyAxes === 'zyx') {
    dims = [arr.shape[2], arr.shape[1], arr.shape[0]];
  } else {
    const [nx, ny, nz] = arr.shape;
    dims = [nx, ny, nz];
    const out = allocateVoxels(arr.dtype, raw.length);
    for (let x = 0; x < nx; x++) {
      for (let y = 0; y < ny; y++) {
        const src = (x * ny + y) * nz;
        for (let z = 0; z < nz; z++) out[x + nx * (y + ny * z)] = raw[src + z];
      }
    }
    raw = out;
  }
  return {
    source: file,
    format: 'npy',
    dims,
    voxelType: arr.dtype,
    voxelSize: [1, 1, 1],
    affine: [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ],
    raw,
    slope: 1,
    intercept: 0,
  };
}
