import { generateClinical } from '../../src/data/synth/clinical';
import { scanPlan } from '../../src/data/synth/patient-scan';
import { renderPhantom } from '../../src/data/synth/phantom';
import { Volume } from '../../src/io/volume';
import { fillHoles } from '../../src/math/morphology';

/**
 * A synthetic head CT made harder than the cohort's: eyes in front of the skull joined to the brain by optic nerves
 * through the bone, an 8 mm burr hole that joins scalp and brain, a 3 mm one, a plastic headrest, a calcification
 * (300 HU) inside the brain, a fluid-filled sinus between the eyes (14 mL at 40 HU, as blood or mucus fills one
 * after trauma, inside a bone wall that each slice shows as a closed ring, like the skull base's), and partial volume
 * (in-plane [1 2 1] / 4 blur). The truth is the generator's brain.
 */
export function hardHead(patientIndex: number, inPlane: number) {
  const patient = generateClinical(1).filter((p) => p.hasImage)[patientIndex];
  const { geometry: g, params: p, rng } = scanPlan(patient, 1, inPlane);
  const rendered = renderPhantom(g, p, rng);
  const { nx, ny, nz, dx, dy, dz } = g;
  const dims: [number, number, number] = [nx, ny, nz];
  const truthRaw = new Uint8Array(nx * ny * nz);
  for (let i = 0; i < truthRaw.length; i++) truthRaw[i] = rendered.stripped[i] !== 0 ? 1 : 0;
  const truth = fillHoles(truthRaw, dims);
  const hu = Float32Array.from(rendered.withSkull);
  const eyes = new Uint8Array(hu.length);
  const headrest = new Uint8Array(hu.length);
  const calcification = new Uint8Array(hu.length);
  const sinus = new Uint8Array(hu.length);
  const xAt = (i: number) => (i - (nx - 1) / 2) * dx;
  const yAt = (j: number) => (j - (ny - 1) / 2) * dy - p.offsetY;
  const zAt = (k: number) => (k + 0.5) * dz;
  const czAt = (z: number) => (z > p.centreZ ? (z - p.centreZ) / p.topSemiAxis : (z - p.centreZ) / (p.centreZ * 1.6));
  // Eyes at the second slice, in front of the forehead; nerves run back from each globe into the brain.
  const ze = zAt(1);
  const cze = czAt(ze);
  const globes = [-28, 28].map((xe) => ({ x: xe, y: -(p.headB * Math.sqrt(Math.max(0, 1 - cze * cze - (xe / p.headA) ** 2)) + 9), z: ze }));
  const holes = [
    { y: 0, z: p.centreZ, r: 4, side: 1 },
    { y: 10, z: p.centreZ, r: 1.5, side: -1 },
  ];
  for (let k = 0; k < nz; k++) {
    const z = zAt(k);
    const cz = czAt(z);
    for (let j = 0; j < ny; j++) {
      const y = yAt(j);
      for (let i = 0; i < nx; i++) {
        const x = xAt(i);
        const o = i + nx * (j + ny * k);
        for (const e of globes) {
          const r = Math.hypot(x - e.x, y - e.y, z - e.z);
          if (r < 11) {
            hu[o] = 10;
            eyes[o] = 1;
          }
          // Nerve: a 2.5 mm tube from the globe 35 mm back and inwards; inside the brain it changes nothing.
          const t = Math.max(0, Math.min(1, ((x - e.x) * (-0.3 * e.x) + (y - e.y) * 35) / ((0.3 * e.x) ** 2 + 35 ** 2)));
          const px = e.x - 0.3 * e.x * t;
          const py = e.y + 35 * t;
          if (Math.hypot(x - px, y - py, z - e.z) < 2.5 && !truth[o] && r >= 11) {
            hu[o] = 32;
            eyes[o] = 1;
          }
        }
        // Sinus: an ellipsoid of 2 mm bone around 40 HU fluid, in front of the forehead between the eyes.
        const q = Math.sqrt((x / 17) ** 2 + ((y - globes[0].y) / 17) ** 2 + ((z - ze) / 17) ** 2);
        if (q < 1 && !truth[o]) {
          const inner = Math.sqrt((x / 15) ** 2 + ((y - globes[0].y) / 15) ** 2 + ((z - ze) / 15) ** 2);
          // The skull stays whole where the cavity meets it: the sinus lies against the bone, not through it.
          if (inner >= 1) hu[o] = 500;
          else if (hu[o] < 200) {
            hu[o] = 40;
            sinus[o] = 1;
          }
        }
        for (const h of holes) {
          if (Math.hypot(y - h.y, z - h.z) < h.r && Math.sign(x) === h.side && hu[o] > 200) hu[o] = 30;
        }
        const rho = Math.sqrt((x / p.headA) ** 2 + (y / p.headB) ** 2 + cz * cz);
        if (cz * cz < 1 && rho > 1.03 && rho < 1.12 && y > 0.5 * p.headB) {
          hu[o] = 60;
          headrest[o] = 1;
        }
        if (Math.hypot(x, y - 25, z - p.centreZ - 5) < 3 && truth[o]) {
          hu[o] = 300;
          calcification[o] = 1;
        }
      }
    }
  }
  // Partial volume: each voxel mixes with its in-plane neighbours, as a CT reconstruction kernel does.
  const blurred = new Float32Array(hu.length);
  for (let pass = 0; pass < 2; pass++) {
    const src = pass === 0 ? hu : blurred;
    const dst = pass === 0 ? blurred : hu;
    const step = pass === 0 ? 1 : nx;
    for (let k = 0; k < nz; k++) {
      for (let j = 0; j < ny; j++) {
        for (let i = 0; i < nx; i++) {
          const o = i + nx * (j + ny * k);
          const at = pass === 0 ? i : j;
          const len = pass === 0 ? nx : ny;
          const prev = at > 0 ? src[o - step] : src[o];
          const next = at < len - 1 ? src[o + step] : src[o];
          dst[o] = (prev + 2 * src[o] + next) / 4;
        }
      }
    }
  }
  const raw = Int16Array.from(hu, (v) => Math.round(v) + 1024);
  const volume: Volume = {
    source: `hard-head-${patient.id}`,
    format: 'nifti1',
    dims,
    voxelType: 'int16',
    voxelSize: [dx, dy, dz],
    affine: [[-dx, 0, 0, 0], [0, -dy, 0, 0], [0, 0, dz, 0], [0, 0, 0, 1]],
    raw,
    slope: 1,
    intercept: -1024,
  };
  return { volume, truth, eyes, headrest, calcification, sinus };
}

