/**
 * Brain extraction from a head CT in HU: the copy of a scan with only the brain kept (`<id>_brain.nii.gz`, 0 HU
 * outside), which the paper's models read (reference/paper.md, "Images: the skull-stripped copy feeds every model").
 * The authors' tool is not public; this is a classical intensity and morphology method:
 * 1. bone is HU >= `boneHu`; brain may only be soft tissue (`brainHu`) at least `boneMarginMm` from bone;
 * 2. each axial slice's skull, closed over gaps up to 2 x `gapMm` (sutures, foramina, partial volume), encloses the
 *    intracranial region of that slice;
 * 3. an opening by a ball of `openingMm` cuts the soft tissue inside the skull from the scalp, orbits and neck through
 *    the thin bridges that pass the skull; the brain's core is the piece most inside the skull, with the other pieces
 *    that lie mostly in the slices' enclosed regions its brain reaches (the cranium; not a sinus or nasal cavity that
 *    rings of the skull base enclose outside it);
 * 4. the brain is everything soft reached from the core, inside the cranium where a slice's skull encloses it and
 *    within the opening elsewhere (skull base), plus the soft voxels of the bone margin next to it, with its holes
 *    filled (CSF below the window, calcifications).
 */
import { Volume, volumeValues } from '../io/volume';
import { connectedComponents, dilateBall, erodeBall, fillHoles, fillHolesPerSlice, MaskSpacing, reachFrom, slicesWithVoxels } from '../math/morphology';

/** Thresholds and radii of {@link skullStripMask}; the defaults suit adult head CT at 0.4-1 mm in-plane, 0.6-6.5 mm slices. */
export interface SkullStripOptions {
  /** HU window brain tissue lies in: CSF, grey and white matter, blood up to its clotted density. Default [-20, 120]. */
  brainHu?: [number, number];
  /** HU from which a voxel is bone (skull, calcification). Default 200. */
  boneHu?: number;
  /** Soft tissue closer than this to bone is left out (partial volume with the skull), mm. Default 1. */
  boneMarginMm?: number;
  /** Radius of the closing that seals gaps in each slice's skull, mm. Default 3. */
  gapMm?: number;
  /** Radius of the opening that cuts the brain from tissue outside the skull, mm. Default 5. */
  openingMm?: number;
  /** Smallest piece of the core kept besides the largest, mL. Default 0.5. */
  minPieceMl?: number;
}

/** The brain mask of one scan and what it says about the scan. */
export interface SkullStripResult {
  /** 1 inside the brain, `[x + nx * (y + ny * z)]` like the scan. */
  mask: Uint8Array;
  /** Brain volume, mL. */
  brainMl: number;
  /** Slices (z) holding any brain. */
  brainSlices: number;
  /** Slices where the skull encloses an intracranial region. */
  enclosedSlices: number;
  /** Pieces of the core kept (1 for a whole brain; more where the scan cuts through the skull base). */
  pieces: number;
  /** Findings that call for a look at the mask (implausible volume, no skull found, values not in HU). */
  warnings: string[];
}

const DEFAULTS: Required<SkullStripOptions> = { brainHu: [-20, 120], boneHu: 200, boneMarginMm: 1, gapMm: 3, openingMm: 5, minPieceMl: 0.5 };

/** The options with defaults filled in, checked. */
export function resolveSkullStripOptions(options: SkullStripOptions = {}): Required<SkullStripOptions> {
  const o = { ...DEFAULTS, ...options };
  const [lo, hi] = o.brainHu;
  if (!(lo < hi)) throw new Error(`skull strip brainHu expected [low, high] with low < high, got [${o.brainHu.join(', ')}]`);
  if (!(o.boneHu > hi)) throw new Error(`skull strip boneHu expected above the brain window's top (${hi} HU), got ${o.boneHu}`);
  for (const key of ['boneMarginMm', 'gapMm', 'openingMm', 'minPieceMl'] as const) {
    if (!(o[key] >= 0)) throw new Error(`skull strip ${key} expected a number >= 0, got ${o[key]}`);
  }
  return o;
}

/**
 * The brain mask of a head CT in HU (step 1-4 above).
 * @param volume a scan as read by io/read-volume (values after slope and intercept in HU).
 */
export function skullStripMask(volume: Volume, options: SkullStripOptions = {}): SkullStripResult {
  const o = resolveSkullStripOptions(options);
  const dims = volume.dims;
  const [nx, ny, nz] = dims;
  const n = nx * ny * nz;
  const spacing = volume.voxelSize.map((s) => Math.abs(s)) as unknown as MaskSpacing;
  if (!spacing.every((s) => s > 0 && Number.isFinite(s))) throw new Error(`skull strip expected positive voxel sizes in mm, got [${volume.voxelSize.join(', ')}] (${volume.source})`);
  const voxelMl = (spacing[0] * spacing[1] * spacing[2]) / 1000;
  const hu = volumeValues(volume);
  const warnings: string[] = [];

  const bone = new Uint8Array(n);
  let boneVoxels = 0;
  let minHu = Infinity;
  for (let i = 0; i < n; i++) {
    const v = hu[i];
    if (v >= o.boneHu) {
      bone[i] = 1;
      boneVoxels++;
    }
    if (v < minHu) minHu = v;
  }
  if (minHu > -500) warnings.push(`lowest value ${minHu.toFixed(0)} expected about -1000 HU (air) in a head CT in HU: is the rescale slope/intercept applied?`);

  const nearBone = o.boneMarginMm > 0 ? dilateBall(bone, dims, spacing, o.boneMarginMm) : bone;
  const candidate = new Uint8Array(n);
  const [lo, hi] = o.brainHu;
  for (let i = 0; i < n; i++) candidate[i] = hu[i] >= lo && hu[i] <= hi && !nearBone[i] ? 1 : 0;

  // Per-slice enclosure of the closed skull: 2D on purpose, since each axial slice of a head shows the skull as a ring
  // while in 3D the vault is open at the skull base.
  const closedBone = o.gapMm > 0 ? erodeBall(dilateBall(bone, dims, spacing, o.gapMm), dims, spacing, o.gapMm) : bone;
  const enclosed = fillHolesPerSlice(closedBone, dims);
  const enclosedSoft = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    if (closedBone[i]) enclosed[i] = 0;
    else if (enclosed[i] && candidate[i]) enclosedSoft[i] = 1;
  }
  const enclosedSlices = slicesWithVoxels(enclosedSoft, dims).length;
  if (boneVoxels === 0) warnings.push(`no voxel at or above ${o.boneHu} HU: no skull to strip`);
  else if (enclosedSlices === 0) warnings.push('the skull encloses soft tissue in no slice: the brain is the largest piece of soft tissue, which may include scalp');

  const core = erodeBall(candidate, dims, spacing, o.openingMm);
  const { labels, sizes } = connectedComponents(core, dims, 6);
  const inside = new Float64Array(sizes.length);
  for (let i = 0; i < n; i++) if (labels[i] && enclosed[i]) inside[labels[i]]++;
  let best = 0;
  for (let c = 1; c < sizes.length; c++) {
    const score = enclosedSlices ? inside[c] : sizes[c];
    const bestScore = best ? (enclosedSlices ? inside[best] : sizes[best]) : 0;
    if (score > bestScore) best = c;
  }
  const keep = new Uint8Array(sizes.length);
  if (best) keep[best] = 1;
  const others: number[] = [];
  for (let c = 1; c < sizes.length; c++) {
    if (c !== best && enclosedSlices && inside[c] >= 0.5 * sizes[c] && sizes[c] * voxelMl >= o.minPieceMl) others.push(c);
  }
  // Bone rings of the skull base also enclose soft tissue outside the cranium (a fluid-filled sinus, the nasal
  // cavity). So the cranium is only the slices' enclosed regions that the largest piece's brain reaches, and another
  // piece counts as brain only when it lies mostly there.
  let cranial = enclosed;
  // The largest piece's opening, kept for step 4 when no other piece joins it.
  let nearBest: Uint8Array | undefined;
  if (others.length) {
    const bestSeed = Uint8Array.from(labels, (l) => (l === best ? 1 : 0));
    const near = (nearBest = dilateBall(bestSeed, dims, spacing, o.openingMm));
    const around = new Uint8Array(n);
    for (let i = 0; i < n; i++) around[i] = candidate[i] && (near[i] || enclosed[i]) ? 1 : 0;
    cranial = reachFrom(reachFrom(bestSeed, around, dims), enclosed, dims, 4);
    const inCranium = new Float64Array(sizes.length);
    for (let i = 0; i < n; i++) if (labels[i] && cranial[i]) inCranium[labels[i]]++;
    for (const c of others) if (inCranium[c] >= 0.5 * sizes[c]) keep[c] = 1;
  }
  const pieces = keep.reduce((a, k) => a + k, 0);
  const seed = new Uint8Array(n);
  for (let i = 0; i < n; i++) seed[i] = keep[labels[i]];

  // The opening restores the core's shape; inside the cranium every soft voxel connected to it is brain too, which
  // recovers the thin cortex and CSF at the inner table that the opening cuts off.
  const opened = nearBest && pieces === 1 ? nearBest : dilateBall(seed, dims, spacing, o.openingMm);
  const region = new Uint8Array(n);
  for (let i = 0; i < n; i++) region[i] = candidate[i] && (opened[i] || cranial[i]) ? 1 : 0;
  const reached = reachFrom(seed, region, dims);
  // The bone margin kept partial-volume voxels out of the connectivity; soft voxels within it next to the brain are
  // brain again (subarachnoid CSF against the inner table).
  if (o.boneMarginMm > 0) {
    const rim = dilateBall(reached, dims, spacing, o.boneMarginMm);
    for (let i = 0; i < n; i++) if (rim[i] && !bone[i] && hu[i] >= lo && hu[i] <= hi) reached[i] = 1;
  }
  const filled3d = fillHoles(reached, dims);
  const filled2d = fillHolesPerSlice(reached, dims);
  const mask = new Uint8Array(n);
  let voxels = 0;
  for (let i = 0; i < n; i++) {
    if (filled3d[i] || filled2d[i]) {
      mask[i] = 1;
      voxels++;
    }
  }
  const brainSlices = slicesWithVoxels(mask, dims).length;
  const brainMl = voxels * voxelMl;
  if (voxels === 0) warnings.push('no brain found: the mask is empty');
  else if (brainMl < 200) warnings.push(`brain volume ${brainMl.toFixed(0)} mL expected 200-2000 mL for a head CT: check the mask`);
  else if (brainMl > 2000) warnings.push(`brain volume ${brainMl.toFixed(0)} mL expected 200-2000 mL for a head CT: the mask may include tissue outside the skull`);
  return { mask, brainMl, brainSlices, enclosedSlices, pieces, warnings };
}

/**
 * The skull-stripped copy of a scan: its HU inside `mask`, 0 HU outside (the authors' `_brain` files), with the
 * scan's geometry. Stored as int16 HU when every kept value is an integer in range, else float32.
 */
export function applyBrainMask(volume: Volume, mask: Uint8Array): Volume {
  if (mask.length !== volume.raw.length) throw new Error(`brain mask expected ${volume.raw.length} voxels, got ${mask.length} (${volume.source})`);
  const hu = volumeValues(volume);
  let integral = true;
  for (let i = 0; i < hu.length && integral; i++) {
    if (mask[i] && !(Number.isInteger(hu[i]) && hu[i] >= -32768 && hu[i] <= 32767)) integral = false;
  }
  const raw = integral ? new Int16Array(hu.length) : new Float32Array(hu.length);
  for (let i = 0; i < hu.length; i++) raw[i] = mask[i] ? hu[i] : 0;
  return { ...volume, raw, voxelType: integral ? 'int16' : 'float32', slope: 1, intercept: 0 };
}

/**
 * The brain mask of a skull-stripped copy made by any tool: its non-zero voxels with enclosed holes filled (a brain
 * voxel that happens to hold exactly 0 HU is still brain). The reference for comparing strippings.
 */
export function brainMaskFromStripped(stripped: Volume): Uint8Array {
  const values = volumeValues(stripped);
  return fillHoles(Uint8Array.from(values, (v) => (v !== 0 && !Number.isNaN(v) ? 1 : 0)), stripped.dims);
}

/**
 * Agreement of two brain masks: Dice coefficient and volumes (mL), e.g. this stripping against a reference copy.
 * Dice is 1 when both are empty.
 */
export function maskAgreement(a: Uint8Array, b: Uint8Array, voxelSize: [number, number, number]): { dice: number; aMl: number; bMl: number } {
  if (a.length !== b.length) throw new Error(`mask agreement expected masks of one size, got ${a.length} and ${b.length} voxels`);
  let na = 0;
  let nb = 0;
  let both = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i]) na++;
    if (b[i]) nb++;
    if (a[i] && b[i]) both++;
  }
  const voxelMl = Math.abs(voxelSize[0] * voxelSize[1] * voxelSize[2]) / 1000;
  return { dice: na + nb === 0 ? 1 : (2 * both) / (na + nb), aMl: na * voxelMl, bMl: nb * voxelMl };
}
