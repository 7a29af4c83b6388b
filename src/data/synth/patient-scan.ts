import { deriveSeed, SeededRandom } from '../../math/random';
import { SynthPatient } from './clinical';
import { Blob, PhantomParams, ScanGeometry } from './phantom';

/** Hidden ground truth of one synthetic scan, written beside the cohort for evaluation (e.g. saliency). */
export interface ScanTruth {
  hematomaMl: number;
  location: 'deep' | 'lobar';
  side: 'left' | 'right';
  ivhFraction: number;
  midlineShiftMm: number;
  atrophy: number;
}

const sigmoid = (v: number) => 1 / (1 + Math.exp(-v));
const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/**
 * Draws a patient's scan geometry and phantom parameters from their clinical row, tying image to outcome as in real
 * CT: hematoma volume, ventricular blood and midline shift grow with severity (low GCS) and poor prognosis, brain
 * atrophy grows with age. The link is noisy on purpose: hematoma volume alone gives a prognosis AUC near 0.7.
 * @param inPlane voxels per side in-plane (512 for the real geometry).
 */
export function scanPlan(patient: SynthPatient, seed: number, inPlane: number): { geometry: ScanGeometry; params: PhantomParams; truth: ScanTruth; rng: SeededRandom } {
  const rng = new SeededRandom(deriveSeed(seed, 1000 + patient.id));
  const fov = 220 + rng.between(-15, 15);
  const pixel = fov / inPlane;
  const nz = patient.slices;
  const dz = Math.round(clamp(146 / nz, 2.5, 6.5) * 4) / 4;
  const coverage = nz * dz;
  const g = patient.severity;
  const y = patient.label;
  const hematomaMl = clamp(Math.exp(Math.log(9) + 1.5 * g + 0.35 * y + 0.65 * rng.normal()), 1.5, 110);
  const deep = rng.chance(0.6);
  const side = rng.chance(0.5) ? 1 : -1;
  const centreZ = coverage * (0.36 + rng.between(-0.03, 0.03));
  const topSemiAxis = coverage - centreZ - rng.between(0, 8);
  const r = Math.cbrt((3 * hematomaMl * 1000) / (4 * Math.PI));
  const aspect = [1 + rng.between(-0.25, 0.25), 1 + rng.between(-0.25, 0.35), 1 + rng.between(-0.3, 0.1)];
  const norm = Math.cbrt(aspect[0] * aspect[1] * aspect[2]);
  const [rx, ry, rz] = aspect.map((a) => (r * a) / norm);
  const hematoma: Blob = deep
    ? { cx: side * rng.between(14, 24), cy: rng.between(-8, 14), cz: centreZ + rng.between(2, 16), rx, ry, rz, rough: 0.12, phase: [rng.between(0, 6), rng.between(0, 6), rng.between(0, 6)] }
    : { cx: side * rng.between(28, 42), cy: rng.between(-40, 45), cz: centreZ + rng.between(12, 40), rx, ry, rz, rough: 0.18, phase: [rng.between(0, 6), rng.between(0, 6), rng.between(0, 6)] };
  const ivhFraction = rng.chance(sigmoid(-2.2 + 3 * g + 0.5 * y)) ? clamp(0.15 + 0.45 * g + rng.between(-0.1, 0.2), 0.08, 0.85) : 0;
  const midlineShiftMm = clamp(0.14 * hematomaMl * rng.between(0.6, 1.4) - 1, 0, 14);
  // Atrophy follows age loosely: people of one age differ (brain reserve, vascular load).
  const atrophy = clamp(((patient.age - 45) / 45) * 0.8 + 0.18 * rng.normal() + 0.05, 0, 1);
  const noiseSd = patient.scanner === 'GE' ? 4 : 5;
  const params: PhantomParams = {
    headA: 70 + 3.5 * rng.normal(),
    headB: 91 + 4.5 * rng.normal(),
    centreZ,
    topSemiAxis,
    offsetY: rng.between(-6, 6),
    scalp: 4 + rng.between(0, 2.5),
    skull: 6 + rng.between(0, 2),
    atrophy,
    hematoma,
    hematomaHu: 58 + rng.between(0, 16),
    edema: 1 + 0.45 * Math.sqrt(hematomaMl),
    ivh: ivhFraction,
    midlineShift: midlineShiftMm,
    noiseSd,
    greyHu: 37 + rng.between(-2, 2),
    whiteHu: 27 + rng.between(-2, 2),
  };
  return {
    geometry: { nx: inPlane, ny: inPlane, nz, dx: pixel, dy: pixel, dz },
    params,
    truth: { hematomaMl, location: deep ? 'deep' : 'lobar', side: side > 0 ? 'left' : 'right', ivhFraction, midlineShiftMm, atrophy },
    rng,
  };
}
