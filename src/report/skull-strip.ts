import { Patient } from '../data/cohort';
import { SkullStripOptions, skullStripMask, SkullStripResult } from '../data/skull-strip';
import { compareSkullStrip } from '../data/skull-strip-scan';
import { readVolume } from '../io/read-volume';
import { Volume, volumeValues } from '../io/volume';
import { slicesWithVoxels } from '../math/morphology';
import { escapeHtml, htmlImage } from './html';
import { displayScale, encodePng, windowGrey } from './png';

/** One line of text above or instead of the slices; `html` is already escaped. */
const noteHtml = (html: string) => `<div style="font:13px sans-serif;margin:4px 0">${html}</div>`;

/** Outline colours: this stripping's mask, and the reference copy's where one is given. */
const OURS: [number, number, number] = [46, 204, 64];
const REFERENCE: [number, number, number] = [240, 18, 190];

/**
 * One axial slice of a raw scan in the brain window (0-80 HU) with the outline of a brain mask (green) and of a
 * reference mask (magenta; under the green where the two agree), as an RGB PNG; `scale` upsamples small scans
 * (nearest neighbour).
 * @param mask, reference in the scan's `[x + nx * (y + ny * z)]` order.
 */
export function brainMaskSlicePng(scan: Volume, mask: Uint8Array, reference: Uint8Array | null, z: number, scale = 1): Uint8Array {
  const [nx, ny, nz] = scan.dims;
  if (!(z >= 0 && z < nz)) throw new Error(`slice index expected 0..${nz - 1}, got ${z} (${scan.source})`);
  const hu = volumeValues(scan);
  const s = Math.max(1, Math.floor(scale));
  const w = nx * s;
  const out = new Uint8Array(w * ny * s * 3);
  const base = z * nx * ny;
  // Outlines `thickness` voxels wide inside the mask, so they stay visible on a 512 x 512 slice shown at 512 px.
  const thickness = Math.max(1, Math.round(nx / 256));
  const edge = (m: Uint8Array, x: number, y: number) => {
    const i = base + y * nx + x;
    if (!m[i]) return false;
    for (let k = 1; k <= thickness; k++) {
      if (x < k || y < k || x >= nx - k || y >= ny - k) return true;
      if (!m[i - k] || !m[i + k] || !m[i - k * nx] || !m[i + k * nx]) return true;
    }
    return false;
  };
  for (let y = 0; y < ny; y++) {
    for (let x = 0; x < nx; x++) {
      const g = windowGrey(hu[base + y * nx + x], 0, 80);
      let rgb: readonly number[] = [g, g, g];
      if (reference && edge(reference, x, y)) rgb = REFERENCE;
      if (edge(mask, x, y)) rgb = OURS;
      for (let dy = 0; dy < s; dy++) for (let dx = 0; dx < s; dx++) out.set(rgb, ((y * s + dy) * w + x * s + dx) * 3);
    }
  }
  return encodePng(out, w, ny * s, 3);
}

/**
 * A skull stripping at a glance, as HTML: three slices through the brain (a quarter, half and three quarters of the
 * way up) with the mask's outline, its volume, and, given a reference mask (e.g. the dataset's own `_brain` copy), its
 * outline and the Dice of the two.
 */
export function skullStripHtml(scan: Volume, result: SkullStripResult, reference: Uint8Array | null = null, dice?: number): string {
  const [nx, , nz] = scan.dims;
  const withBrain = slicesWithVoxels(result.mask, scan.dims);
  const slices = withBrain.length ? [0.25, 0.5, 0.75].map((f) => withBrain[Math.min(withBrain.length - 1, Math.floor(f * withBrain.length))]) : [Math.floor(nz / 2)];
  const scale = displayScale(nx);
  const summary =
    `${escapeHtml(scan.source)}: ${result.brainMl.toFixed(0)} mL of brain in ${result.brainSlices} of ${nz} slices` +
    (dice !== undefined ? `; Dice ${dice.toFixed(4)} with the reference (magenta)` : '') +
    (result.warnings.length ? `; warnings: ${escapeHtml(result.warnings.join('; '))}` : '');
  return (
    noteHtml(summary) +
    slices.map((z) => htmlImage(brainMaskSlicePng(scan, result.mask, reference, z, scale), `slice ${z + 1}/${nz}: this mask (green)${reference ? ', reference (magenta)' : ''}`)).join('')
  );
}

/**
 * One patient's raw scan stripped by this project's method (`ich skull-strip`), as {@link skullStripHtml}: beside the
 * dataset's own skull-stripped copy with the Dice of the two where the patient has both, alone where only the raw
 * scan exists (what `ich skull-strip` would write). A patient without a raw NIfTI scan (the DIGITAL.CSIC layout ships
 * only preprocessed arrays) or whose files cannot be read gets a line saying why, not an error, so a notebook keeps
 * running.
 */
export async function patientSkullStripHtml(patient: Patient, options: SkullStripOptions = {}): Promise<string> {
  const note = (text: string) => noteHtml(escapeHtml(text));
  const files = [patient.imagePath, patient.rawImagePath].filter((f): f is string => f !== undefined);
  const brain = files.find((f) => /_brain\.nii(\.gz)?$/.test(f));
  const raw = files.find((f) => f !== brain && /\.nii(\.gz)?$/.test(f));
  if (!raw) return note(`patient ${patient.id}: no raw NIfTI scan with skull (ICH_nii/${patient.folder}/${patient.id}.nii.gz) to strip`);
  try {
    if (!brain) {
      const scan = await readVolume(raw);
      return skullStripHtml(scan, skullStripMask(scan, options));
    }
    const c = await compareSkullStrip(raw, brain, options);
    return skullStripHtml(c.scan, c.result, c.reference, c.dice);
  } catch (err) {
    return note(`patient ${patient.id}: skull stripping not shown: ${(err as Error).message}`);
  }
}
