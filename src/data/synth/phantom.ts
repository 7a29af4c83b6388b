import { SeededRandom } from '../../math/random';

/** Voxel grid of a synthetic scan: x = left-right, y = anterior-posterior, z = slices (inferior to superior). */
export interface ScanGeometry {
  nx: number;
  ny: number;
  nz: number;
  /** Voxel size in mm. */
  dx: number;
  dy: number;
  dz: number;
}

/** An ellipsoid in head coordinates (mm), with HU and an irregularity amplitude for its boundary. */
export interface Blob {
  cx: number;
  cy: number;
  cz: number;
  rx: number;
  ry: number;
  rz: number;
  /** Relative boundary irregularity (0 = smooth ellipsoid). */
  rough: number;
  phase: [number, number, number];
}

/**
 * Everything a synthetic head CT is drawn from. Distances in mm, densities in HU; the clinical link is made by the
 * cohort generator (hematoma volume, ventricular blood and midline shift grow with severity; atrophy with age).
 */
export interface PhantomParams {
  /** Head semi-axes at the widest level: left-right and anterior-posterior. */
  headA: number;
  headB: number;
  /** Height (mm from the first slice) of the widest level, and the head's semi-axis above it. */
  centreZ: number;
  topSemiAxis: number;
  /** Anterior-posterior offset of the head in the field of view. */
  offsetY: number;
  scalp: number;
  skull: number;
  /** 0 (young) .. 1 (marked atrophy): wider ventricles, sulci and subarachnoid space. */
  atrophy: number;
  /** Intraparenchymal hematoma, or null. */
  hematoma: Blob | null;
  hematomaHu: number;
  /** Perihematomal edema rim width. */
  edema: number;
  /** Fraction (0..1) of the ventricles' dependent part filled with blood. */
  ivh: number;
  /** Displacement of midline structures away from the hematoma at its level (mm). */
  midlineShift: number;
  /** Image noise standard deviation (HU). */
  noiseSd: number;
  /** Grey and white matter densities (HU). */
  greyHu: number;
  whiteHu: number;
}

/** Rendered volumes, each `[x + nx * (y + ny * z)]`. */
export interface PhantomVolumes {
  /** With scalp and skull (ICH_nii). */
  withSkull: Int16Array;
  /** Brain only, 0 outside (ICH_nii_StrippedSkull). */
  stripped: Int16Array;
  /** 0 background, 1 intraparenchymal hematoma, 2 intraventricular blood. */
  mask: Uint8Array;
}

const CSF_HU = 7;
const BLOOD_IVH_HU = 58;
const FALX_HU = 48;
const DEEP_GREY_HU = 36;

/** A table of standard normal values so per-voxel noise costs one lookup. */
function normalTable(rng: SeededRandom, size = 1 << 16): Float32Array {
  const t = new Float32Array(size);
  for (let i = 0; i < size; i++) t[i] = rng.normal();
  return t;
}

/** Normalised radius of a point in a blob (1 on its boundary, which is roughened by a smooth 3D pattern). */
function blobRadius(b: Blob, x: number, y: number, z: number): number {
  const u = (x - b.cx) / b.rx;
  const v = (y - b.cy) / b.ry;
  const w = (z - b.cz) / b.rz;
  const r = Math.sqrt(u * u + v * v + w * w);
  if (b.rough === 0) return r;
  const m = 1 + b.rough * Math.sin(3 * u + b.phase[0]) * Math.sin(3 * v + b.phase[1]) * Math.sin(3 * w + b.phase[2]);
  return r / m;
}

/**
 * Renders a synthetic non-contrast head CT: air, scalp, a skull with tables and diploe, subarachnoid CSF, cortex
 * with sulci, white matter, deep grey nuclei, lateral and third ventricles, falx, an intraparenchymal hematoma
 * with edema, layered intraventricular blood and midline shift, plus Gaussian noise.
 */
export function renderPhantom(g: ScanGeometry, p: PhantomParams, rng: SeededRandom): PhantomVolumes {
  const { nx, ny, nz, dx, dy, dz } = g;
  const total = nx * ny * nz;
  const withSkull = new Int16Array(total);
  const stripped = new Int16Array(total);
  const mask = new Uint8Array(total);
  const noise = normalTable(rng);
  // xorshift32 picks the table entry of each voxel, so the noise never repeats in a visible pattern.
  let state = (rng.nextUint32() | 1) >>> 0;
  const nextNoise = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return noise[state & 0xffff];
  };
  const xs = Float64Array.from({ length: nx }, (_, i) => (i - (nx - 1) / 2) * dx);
  const ys = Float64Array.from({ length: ny }, (_, j) => (j - (ny - 1) / 2) * dy - p.offsetY);

  const brainDepth = p.scalp + p.skull;
  const subarachnoid = 0.8 + 2.5 * p.atrophy;
  const sulcusDepth = 5 + 9 * p.atrophy;
  const sulcusWidth = 0.2 + 0.3 * p.atrophy;
  const ventScale = 0.75 + 0.95 * p.atrophy;
  const hem = p.hematoma;
  const hemSide = hem ? Math.sign(hem.cx) || 1 : 0;
  const massEffect = hem ? Math.min(1, (hem.rx * hem.ry * hem.rz) / 27000) : 0;
  const sulcusPhase = [rng.between(0, 6.3), rng.between(0, 6.3), rng.between(0, 6.3)];

  for (let k = 0; k < nz; k++) {
    const z = (k + 0.5) * dz;
    const zr = z - p.centreZ;
    // Above the widest level the head closes as an ellipsoid; below it tapers gently towards the skull base.
    const cz = zr > 0 ? zr / p.topSemiAxis : zr / (p.centreZ * 1.6);
    const cz2 = cz * cz;
    if (cz2 >= 1) {
      for (let o = k * nx * ny, e = o + nx * ny; o < e; o++) {
        withSkull[o] = -1000 + Math.round(3 * nextNoise());
      }
      continue;
    }
    const shiftHere = p.midlineShift * Math.exp(-(((z - (hem ? hem.cz : p.centreZ)) / 45) ** 2));
    const ventZ = p.centreZ + 12;
    const ventInZ = Math.abs(z - ventZ) < 14 * ventScale + 2;
    const thirdInZ = Math.abs(z - p.centreZ) < 9;
    const deepInZ = Math.abs(z - (p.centreZ + 3)) < 12;
    const hemInZ = hem ? Math.abs(z - hem.cz) < hem.rz * 1.4 + p.edema + 2 : false;
    for (let j = 0; j < ny; j++) {
      const y = ys[j];
      let o = (k * ny + j) * nx;
      for (let i = 0; i < nx; i++, o++) {
        const x = xs[i];
        const u = x / p.headA;
        const v = y / p.headB;
        const rho2 = u * u + v * v + cz2;
        let hu: number;
        let inBrain = false;
        let m = 0;
        if (rho2 >= 1) {
          hu = -1000;
        } else {
          const rho = Math.sqrt(rho2);
          const radial = Math.sqrt(x * x + y * y + zr * zr);
          const depth = radial * (1 / rho - 1);
          if (depth < p.scalp) {
            hu = 35;
          } else if (depth < brainDepth) {
            const f = (depth - p.scalp) / p.skull;
            hu = f < 0.3 || f > 0.72 ? 1250 : 600;
          } else {
            inBrain = true;
            const bd = depth - brainDepth;
            // Midline structures move away from the hematoma by the local shift.
            const xs0 = x + hemSide * shiftHere;
            if (bd < subarachnoid) {
              hu = CSF_HU;
            } else if (bd < subarachnoid + sulcusDepth &&
              Math.abs(Math.sin(x * 0.43 + sulcusPhase[0]) + Math.sin(y * 0.37 + sulcusPhase[1]) + Math.sin(z * 0.4 + sulcusPhase[2])) < sulcusWidth * (1.2 - bd / (subarachnoid + sulcusDepth))) {
              hu = CSF_HU;
            } else if (bd < subarachnoid + 3.2) {
              hu = p.greyHu;
            } else {
              hu = p.whiteHu;
            }
            if (Math.abs(xs0) < 0.7 && y < 30 && bd > 2) hu = FALX_HU;
            if (deepInZ) {
              const ax = Math.abs(xs0) - 15;
              const dn = (ax / 8) ** 2 + ((y - 2) / 15) ** 2 + ((z - p.centreZ - 3) / 11) ** 2;
              if (dn < 1) hu = DEEP_GREY_HU;
            }
            if (ventInZ) {
              const side = xs0 >= 0 ? 1 : -1;
              const squeeze = side === hemSide ? 1 - 0.45 * massEffect : 1;
              const vx = Math.abs(xs0) - (3 + 1.2 * ventScale + 0.1 * Math.abs(y + 4));
              const sx = 4 * ventScale * squeeze;
              const sy = 27 + 5 * ventScale;
              const sz = 11 * ventScale * squeeze;
              const dv = (vx / sx) ** 2 + ((y + 4) / sy) ** 2 + ((z - ventZ) / sz) ** 2;
              if (dv < 1) {
                const dependent = (y + 4) / sy; // -1 anterior .. 1 posterior (dependent when supine)
                if (p.ivh > 0 && dependent > 1 - 2 * p.ivh) {
                  hu = BLOOD_IVH_HU;
                  m = 2;
                } else {
                  hu = CSF_HU;
                }
              }
            }
            if (thirdInZ && Math.abs(xs0) < 1.2 * ventScale && Math.abs(y - 4) < 11 && Math.abs(z - p.centreZ) < 8) {
              hu = p.ivh > 0.5 ? BLOOD_IVH_HU : CSF_HU;
              if (p.ivh > 0.5) m = 2;
            }
            if (hemInZ && hem && bd > 1.5) {
              const r = blobRadius(hem, x, y, z);
              if (r < 1) {
                hu = p.hematomaHu;
                m = 1;
              } else if (p.edema > 0) {
                const rimScale = 1 + p.edema / Math.min(hem.rx, hem.ry, hem.rz);
                if (r < rimScale && m === 0) hu = Math.min(hu, 19 + 4 * (r - 1) / (rimScale - 1));
              }
            }
          }
        }
        const sd = hu > 300 ? 25 : hu <= -1000 ? 3 : p.noiseSd;
        const value = Math.round(hu + sd * nextNoise());
        const clamped = value < -1024 ? -1024 : value > 3071 ? 3071 : value;
        withSkull[o] = clamped;
        if (inBrain) {
          stripped[o] = clamped;
          mask[o] = m;
        }
      }
    }
  }
  return { withSkull, stripped, mask };
}
