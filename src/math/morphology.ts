/**
 * Binary morphology on 3D masks stored as `mask[x + nx * (y + ny * z)]` (x fastest, the NIfTI order of io/volume):
 * exact Euclidean distance transforms with anisotropic voxels, erosion and dilation by a ball in mm, connected
 * components and hole filling. The building blocks of CT skull stripping (data/skull-strip).
 */

/** Voxel grid of a mask: [nx, ny, nz] voxels. */
export type MaskDims = readonly [number, number, number];

/** Voxel size in mm, [dx, dy, dz]. */
export type MaskSpacing = readonly [number, number, number];

function checkMask(mask: ArrayLike<number>, dims: MaskDims, where: string): number {
  const [nx, ny, nz] = dims;
  if (![nx, ny, nz].every((n) => Number.isInteger(n) && n > 0)) throw new Error(`${where} expected positive integer dims, got [${dims.join(', ')}]`);
  const n = nx * ny * nz;
  if (mask.length !== n) throw new Error(`${where} expected ${nx} x ${ny} x ${nz} = ${n} voxels, got ${mask.length}`);
  return n;
}

function checkSpacing(spacing: MaskSpacing, where: string): void {
  if (spacing.length !== 3 || !spacing.every((s) => Number.isFinite(s) && s > 0)) throw new Error(`${where} expected three positive voxel sizes in mm, got [${spacing.join(', ')}]`);
}

/**
 * One line of the squared distance transform (Felzenszwalb and Huttenlocher's lower envelope of parabolas):
 * `out[i] = min_j f[j] + (step * (i - j))^2`, where `f` holds 0 at sources and Infinity (or a partial distance)
 * elsewhere. `v` and `z` are scratch of length n and n + 1.
 */
function envelope1d(f: Float64Array, n: number, step: number, out: Float64Array, v: Int32Array, z: Float64Array): void {
  const s2 = step * step;
  let k = -1;
  for (let q = 0; q < n; q++) {
    const fq = f[q];
    if (fq === Infinity) continue;
    // f is in mm^2 and positions in voxel indices, so the intersection s of two parabolas is an index that compares
    // directly with q; the s2 factors convert positions to mm.
    while (k >= 0) {
      const p = v[k];
      const s = (fq + s2 * q * q - (f[p] + s2 * p * p)) / (2 * s2 * (q - p));
      if (s <= z[k]) k--;
      else {
        k++;
        v[k] = q;
        z[k] = s;
        z[k + 1] = Infinity;
        break;
      }
    }
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -Infinity;
      z[1] = Infinity;
    }
  }
  if (k < 0) {
    out.fill(Infinity, 0, n);
    return;
  }
  let j = 0;
  for (let q = 0; q < n; q++) {
    while (z[j + 1] < q) j++;
    const d = q - v[j];
    out[q] = f[v[j]] + s2 * d * d;
  }
}

/**
 * Squared Euclidean distance (mm^2) from every voxel to the nearest voxel where `sources` is non-zero, with voxels of
 * `spacing` mm; 0 at the sources, Infinity everywhere when there is none. Exact (not chamfer), in O(voxels).
 * @param sources a mask in `[x + nx * (y + ny * z)]` order.
 */
export function squaredDistanceToMask(sources: ArrayLike<number>, dims: MaskDims, spacing: MaskSpacing): Float32Array {
  return squaredDistanceWithin(sources, dims, spacing, Infinity);
}

/**
 * As {@link squaredDistanceToMask}, exact wherever the distance is at most `withinMm` and above it elsewhere: axes
 * whose voxels are longer than `withinMm` are skipped, since no source along them can be that close (thick slices
 * make a 1-5 mm ball planar).
 */
function squaredDistanceWithin(sources: ArrayLike<number>, dims: MaskDims, spacing: MaskSpacing, withinMm: number): Float32Array {
  const n = checkMask(sources, dims, 'squaredDistanceToMask');
  checkSpacing(spacing, 'squaredDistanceToMask');
  const [nx, ny, nz] = dims;
  const dist = new Float32Array(n);
  for (let i = 0; i < n; i++) dist[i] = sources[i] ? 0 : Infinity;
  const longest = Math.max(nx, ny, nz);
  const f = new Float64Array(longest);
  const out = new Float64Array(longest);
  const v = new Int32Array(longest);
  const z = new Float64Array(longest + 1);
  const strides = [1, nx, nx * ny];
  for (let axis = 0; axis < 3; axis++) {
    if (spacing[axis] > withinMm) continue;
    const len = dims[axis];
    const stride = strides[axis];
    const [a, b] = axis === 0 ? [1, 2] : axis === 1 ? [0, 2] : [0, 1];
    for (let ib = 0; ib < dims[b]; ib++) {
      for (let ia = 0; ia < dims[a]; ia++) {
        const base = ia * strides[a] + ib * strides[b];
        for (let q = 0; q < len; q++) f[q] = dist[base + q * stride];
        envelope1d(f, len, spacing[axis], out, v, z);
        for (let q = 0; q < len; q++) dist[base + q * stride] = out[q];
      }
    }
  }
  return dist;
}

/**
 * Euclidean distance (mm) from each voxel of `mask` to the nearest voxel outside it, 0 outside, as
 * `scipy.ndimage.distance_transform_edt(mask, sampling=spacing[::-1])` on the (z, y, x) array. Like SciPy, the region
 * beyond the volume's faces is not "outside": a mask that fills the volume has distance Infinity everywhere.
 */
export function distanceTransform(mask: ArrayLike<number>, dims: MaskDims, spacing: MaskSpacing): Float32Array {
  const n = checkMask(mask, dims, 'distanceTransform');
  const outside = new Uint8Array(n);
  for (let i = 0; i < n; i++) outside[i] = mask[i] ? 0 : 1;
  const d = squaredDistanceToMask(outside, dims, spacing);
  for (let i = 0; i < n; i++) d[i] = Math.sqrt(d[i]);
  return d;
}

/**
 * Erosion by a ball of `radiusMm`: keeps the voxels of `mask` farther than the radius from every voxel outside it.
 * The volume's faces are not boundaries (a scan that cuts the brain does not erode it from the cut).
 */
export function erodeBall(mask: ArrayLike<number>, dims: MaskDims, spacing: MaskSpacing, radiusMm: number): Uint8Array {
  const n = checkMask(mask, dims, 'erodeBall');
  if (!(radiusMm >= 0)) throw new Error(`erodeBall radius expected >= 0 mm, got ${radiusMm}`);
  const outside = new Uint8Array(n);
  for (let i = 0; i < n; i++) outside[i] = mask[i] ? 0 : 1;
  const d2 = squaredDistanceWithin(outside, dims, spacing, radiusMm);
  const r2 = radiusMm * radiusMm;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = d2[i] > r2 ? 1 : 0;
  return out;
}

/** Dilation by a ball of `radiusMm`: every voxel within the radius of a voxel of `mask` (the mask included). */
export function dilateBall(mask: ArrayLike<number>, dims: MaskDims, spacing: MaskSpacing, radiusMm: number): Uint8Array {
  const n = checkMask(mask, dims, 'dilateBall');
  if (!(radiusMm >= 0)) throw new Error(`dilateBall radius expected >= 0 mm, got ${radiusMm}`);
  const d2 = squaredDistanceWithin(mask, dims, spacing, radiusMm);
  const r2 = radiusMm * radiusMm;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = d2[i] <= r2 ? 1 : 0;
  return out;
}

/**
 * The layout of a copy of a grid padded by one voxel on each side of x and y, and of z unless `planar` (then each
 * slice is its own 2D grid): neighbours are fixed index offsets with no bounds checks. `rows` visits every row of x
 * with its start in the grid and in the padded copy, for copying values in and out.
 */
function paddedLayout(dims: MaskDims, planar = false) {
  const [nx, ny, nz] = dims;
  const px = nx + 2;
  const pxy = px * (ny + 2);
  const zOff = planar ? 0 : 1;
  return {
    px,
    pxy,
    size: pxy * (planar ? nz : nz + 2),
    /** Index in the padded copy of voxel (x, y, z) of the grid. */
    index: (x: number, y: number, z: number) => 1 + x + px * (y + 1) + pxy * (z + zOff),
    rows(visit: (grid: number, padded: number) => void): void {
      for (let z = 0; z < nz; z++) for (let y = 0; y < ny; y++) visit(nx * (y + ny * z), 1 + px * (y + 1) + pxy * (z + zOff));
    },
  };
}

/** Connected components of a mask, numbered 1.. in the order of their first voxel in memory. */
export interface Components {
  /** Component of each voxel, 0 outside the mask. */
  labels: Int32Array;
  /** Voxels per component; `sizes[0]` is unused (0). */
  sizes: number[];
}

/**
 * Neighbours of a voxel for connected components: 6 = faces, 26 = faces, edges and corners, 4 = the faces within its
 * axial slice (each slice on its own, as a stack of 2D images).
 */
export type Connectivity = 4 | 6 | 26;

/**
 * Labels the connected components of `mask` with face (6), face, edge and corner (26) or in-slice face (4)
 * neighbours, numbered as `scipy.ndimage.label` numbers them on the (z, y, x) array with
 * `generate_binary_structure(3, 1 | 3)` or the in-plane cross.
 */
export function connectedComponents(mask: ArrayLike<number>, dims: MaskDims, connectivity: Connectivity = 6): Components {
  const n = checkMask(mask, dims, 'connectedComponents');
  if (connectivity !== 4 && connectivity !== 6 && connectivity !== 26) throw new Error(`connectedComponents connectivity expected 4, 6 or 26, got ${connectivity}`);
  const [nx, ny, nz] = dims;
  const grid = paddedLayout(dims);
  const { px, pxy } = grid;
  const padded = new Int32Array(grid.size); // -1 in the mask and unlabelled, 0 outside (and the padding), > 0 its label
  grid.rows((src, dst) => {
    for (let x = 0; x < nx; x++) padded[dst + x] = mask[src + x] ? -1 : 0;
  });
  const steps: number[] = [];
  for (let dz = -1; dz <= 1; dz++) {
    for (let dy = -1; dy <= 1; dy++) {
      for (let dx = -1; dx <= 1; dx++) {
        const order = Math.abs(dx) + Math.abs(dy) + Math.abs(dz);
        if (order === 0 || (connectivity !== 26 && order > 1) || (connectivity === 4 && dz !== 0)) continue;
        steps.push(dx + px * dy + pxy * dz);
      }
    }
  }
  const sizes = [0];
  const queue = new Int32Array(n);
  // Components start in memory order of the unpadded grid, which numbers them as SciPy does.
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        const start = grid.index(x, y, z);
        if (padded[start] !== -1) continue;
        const label = sizes.length;
        let tail = 0;
        queue[tail++] = start;
        padded[start] = label;
        for (let head = 0; head < tail; head++) {
          const i = queue[head];
          for (let s = 0; s < steps.length; s++) {
            const j = i + steps[s];
            if (padded[j] === -1) {
              padded[j] = label;
              queue[tail++] = j;
            }
          }
        }
        sizes.push(tail);
      }
    }
  }
  const labels = new Int32Array(n);
  grid.rows((dst, src) => {
    for (let x = 0; x < nx; x++) labels[dst + x] = padded[src + x];
  });
  return { labels, sizes };
}

/**
 * Flood-fills from the faces of the grid through background voxels (face neighbours); returns what was reached.
 * With `planar`, each slice is its own 2D grid: only its x and y edges are faces and nothing crosses between slices.
 * Works on a padded copy whose padding counts as reached, so the walk needs neither divisions nor bounds checks.
 */
function floodFromFaces(mask: ArrayLike<number>, dims: MaskDims, planar = false): Uint8Array {
  const [nx, ny, nz] = dims;
  const grid = paddedLayout(dims, planar);
  const { px, pxy } = grid;
  // 0 = background not yet reached, 1 = mask (a wall), 2 = reached (the padding from the start).
  const state = new Uint8Array(grid.size).fill(2);
  grid.rows((src, dst) => {
    for (let x = 0; x < nx; x++) state[dst + x] = mask[src + x] ? 1 : 0;
  });
  const queue = new Int32Array(nx * ny * nz + 1);
  let tail = 0;
  // Seeds: background voxels next to the padding.
  for (let z = 0; z < nz; z++) {
    for (let y = 0; y < ny; y++) {
      for (let x = 0; x < nx; x++) {
        const onFace = x === 0 || y === 0 || x === nx - 1 || y === ny - 1 || (!planar && (z === 0 || z === nz - 1));
        if (!onFace) continue;
        const j = grid.index(x, y, z);
        if (state[j] === 0) {
          state[j] = 2;
          queue[tail++] = j;
        }
      }
    }
  }
  for (let head = 0; head < tail; head++) {
    const i = queue[head];
    let j = i - 1;
    if (state[j] === 0) { state[j] = 2; queue[tail++] = j; }
    j = i + 1;
    if (state[j] === 0) { state[j] = 2; queue[tail++] = j; }
    j = i - px;
    if (state[j] === 0) { state[j] = 2; queue[tail++] = j; }
    j = i + px;
    if (state[j] === 0) { state[j] = 2; queue[tail++] = j; }
    if (!planar) {
      j = i - pxy;
      if (state[j] === 0) { state[j] = 2; queue[tail++] = j; }
      j = i + pxy;
      if (state[j] === 0) { state[j] = 2; queue[tail++] = j; }
    }
  }
  const reached = new Uint8Array(nx * ny * nz);
  grid.rows((dst, src) => {
    for (let x = 0; x < nx; x++) reached[dst + x] = state[src + x] === 2 ? 1 : 0;
  });
  return reached;
}

/**
 * Fills the holes of a 3D mask: background not connected (through face neighbours) to the volume's faces joins it,
 * as `scipy.ndimage.binary_fill_holes(mask)`.
 */
export function fillHoles(mask: ArrayLike<number>, dims: MaskDims): Uint8Array {
  const n = checkMask(mask, dims, 'fillHoles');
  const reached = floodFromFaces(mask, dims);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = reached[i] ? 0 : 1;
  return out;
}

/**
 * Fills the holes of every axial slice (z = constant) on its own, with 4-connected background, as
 * `binary_fill_holes` applied to each 2D slice: encloses what a closed ring of the mask surrounds in its slice even
 * when it is open above or below.
 */
export function fillHolesPerSlice(mask: ArrayLike<number>, dims: MaskDims): Uint8Array {
  const n = checkMask(mask, dims, 'fillHolesPerSlice');
  const reached = floodFromFaces(mask, dims, true);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = reached[i] ? 0 : 1;
  return out;
}

/**
 * Reconstruction by components: the voxels of `region` connected (see {@link Connectivity}) to a voxel of `seed`
 * inside it, i.e. the components of `region` that hold a seed, as `scipy.ndimage.binary_propagation(seed,
 * mask=region)` for a seed within the region. Grows a shrunken core back to the tissue it belongs to.
 */
export function reachFrom(seed: ArrayLike<number>, region: ArrayLike<number>, dims: MaskDims, connectivity: Connectivity = 6): Uint8Array {
  const n = checkMask(region, dims, 'reachFrom region');
  checkMask(seed, dims, 'reachFrom seed');
  const { labels, sizes } = connectedComponents(region, dims, connectivity);
  const seeded = new Uint8Array(sizes.length);
  for (let i = 0; i < n; i++) if (seed[i] && labels[i]) seeded[labels[i]] = 1;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = labels[i] && seeded[labels[i]] ? 1 : 0;
  return out;
}

/** The axial slices (z, ascending) that hold at least one voxel of `mask`. */
export function slicesWithVoxels(mask: ArrayLike<number>, dims: MaskDims): number[] {
  checkMask(mask, dims, 'slicesWithVoxels');
  const nxy = dims[0] * dims[1];
  const slices: number[] = [];
  for (let z = 0; z < dims[2]; z++) {
    for (let i = z * nxy, e = i + nxy; i < e; i++) {
      if (mask[i]) {
        slices.push(z);
        break;
      }
    }
  }
  return slices;
}
