import * as path from 'node:path';
import { writeNifti } from '../../io/nifti';
import { SynthPatient } from './clinical';
import { scanPlan, ScanTruth } from './patient-scan';
import { renderPhantom } from './phantom';

/** The folder a patient's files go to in the authors' layout. */
export function prognosisFolder(label: 0 | 1): 'GOOD_PROGNOSIS' | 'POOR_PROGNOSIS' {
  return label === 1 ? 'POOR_PROGNOSIS' : 'GOOD_PROGNOSIS';
}

/** What one rendered patient adds to the ground-truth table. */
export interface WrittenScan extends ScanTruth {
  id: number;
  slices: number;
  voxelSize: [number, number, number];
  hematomaVoxels: number;
  ivhVoxels: number;
  scanner: string;
}

/**
 * Renders one synthetic patient and writes, atomically, the raw scan (`ICH_nii/<folder>/<id>.nii.gz`), the
 * skull-stripped one (`ICH_nii_StrippedSkull/<folder>/<id>_brain.nii.gz`, int16 HU) and the lesion mask
 * (`ICH_lesion_masks/<folder>/<id>_mask.nii.gz`, uint8: 1 hematoma, 2 ventricular blood).
 */
export function writeSynthPatient(root: string, patient: SynthPatient, seed: number, inPlane: number, gzipLevel = 1): WrittenScan {
  const { geometry, params, truth, rng } = scanPlan(patient, seed, inPlane);
  const volumes = renderPhantom(geometry, params, rng);
  const { nx, ny, nz, dx, dy, dz } = geometry;
  const dims: [number, number, number] = [nx, ny, nz];
  const voxelSize: [number, number, number] = [dx, dy, dz];
  // Radiological voxel order: x towards the patient's left, y towards posterior, z superior (RAS world).
  const affine = [
    [-dx, 0, 0, ((nx - 1) / 2) * dx],
    [0, -dy, 0, ((ny - 1) / 2) * dy],
    [0, 0, dz, -0.4 * nz * dz],
    [0, 0, 0, 1],
  ];
  const folder = prognosisFolder(patient.label);
  const description = `ich-prognosis synthetic ${patient.scanner}`;
  writeNifti(path.join(root, 'ICH_nii', folder, `${patient.id}.nii.gz`), { dims, raw: volumes.withSkull, voxelSize, affine, description }, gzipLevel);
  writeNifti(path.join(root, 'ICH_nii_StrippedSkull', folder, `${patient.id}_brain.nii.gz`), { dims, raw: volumes.stripped, voxelSize, affine, description }, gzipLevel);
  writeNifti(path.join(root, 'ICH_lesion_masks', folder, `${patient.id}_mask.nii.gz`), { dims, raw: volumes.mask, voxelSize, affine, description: 'lesion mask: 1 hematoma, 2 IVH' }, 6);
  let hematomaVoxels = 0;
  let ivhVoxels = 0;
  for (let i = 0; i < volumes.mask.length; i++) {
    if (volumes.mask[i] === 1) hematomaVoxels++;
    else if (volumes.mask[i] === 2) ivhVoxels++;
  }
  return { id: patient.id, slices: nz, voxelSize, hematomaVoxels, ivhVoxels, scanner: patient.scanner, ...truth };
}
