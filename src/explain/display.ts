/**
 * The paper's display of a saliency map (paper.md, "Saliency"): min-max normalised over the whole volume, then values
 * below `threshold` set to 0. A constant map becomes all zeros. Signed maps (guided backpropagation) keep, after
 * normalisation, what lies above the threshold: mostly the positive evidence.
 * @param threshold in [0, 1]; default 0.5.
 */
export function paperDisplayMap(map: Float32Array, threshold = 0.5): Float32Array {
  if (!(threshold >= 0 && threshold <= 1)) throw new Error(`saliency threshold expected a number in [0, 1], got ${threshold}`);
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of map) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const out = new Float32Array(map.length);
  if (!(hi > lo)) return out;
  const inv = 1 / (hi - lo);
  for (let i = 0; i < map.length; i++) {
    const v = (map[i] - lo) * inv;
    out[i] = v < threshold ? 0 : v;
  }
  return out;
}
