import { spearman } from '../math/ranks';

/** How well one saliency map points at the lesion (beyond the paper; the synthetic cohort's masks are ground truth). */
export interface LesionLocalisation {
  /** Share of the map's mass on lesion tissue: sum(s * m) / sum(s), s >= 0 the map, m the lesion fraction per voxel. */
  massFraction: number;
  /** The lesion's share of the volume: the mass fraction of a uniform map (chance). */
  lesionFraction: number;
  /** Pointing game: the most salient voxel overlaps the lesion (m > 0). */
  hit: boolean;
}

/**
 * Scores a non-negative saliency map (e.g. {@link paperDisplayMap}'s output) against a lesion-fraction volume of the
 * same geometry (data/lesion.ts). An all-zero map has no mass: massFraction NaN and no hit.
 */
export function lesionLocalisation(map: Float32Array, lesion: Float32Array): LesionLocalisation {
  if (map.length !== lesion.length) throw new Error(`lesion localisation expected a map and a mask of one size, got ${map.length} and ${lesion.length}`);
  let mass = 0;
  let inside = 0;
  let lesionSum = 0;
  let best = -Infinity;
  let bestAt = -1;
  for (let i = 0; i < map.length; i++) {
    const s = map[i];
    if (s < 0) throw new Error(`lesion localisation expected a non-negative map, got ${s} at voxel ${i}`);
    mass += s;
    inside += s * lesion[i];
    lesionSum += lesion[i];
    if (s > best) [best, bestAt] = [s, i];
  }
  return { massFraction: mass > 0 ? inside / mass : NaN, lesionFraction: lesionSum / map.length, hit: mass > 0 && lesion[bestAt] > 0 };
}

/**
 * Rank similarity of two maps of one volume (Spearman correlation of their absolute values), for the
 * model-randomisation sanity check (Adebayo et al. 2018): a method whose maps survive re-initialised weights
 * explains the image, not the model.
 */
export function mapSimilarity(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`map similarity expected two maps of one size, got ${a.length} and ${b.length}`);
  return spearman(Array.from(a, Math.abs), Array.from(b, Math.abs));
}

/**
 * Mean lesion mass fraction, chance level and pointing-game hit rate over patients. Empty maps (e.g. Grad-CAM of a
 * model whose evidence is all negative) have no mass: they are counted, left out of the mean and score no hit.
 */
export function summariseLocalisation(rows: readonly LesionLocalisation[]): { patients: number; emptyMaps: number; massFraction: number; lesionFraction: number; hitRate: number } {
  const valid = rows.filter((r) => !Number.isNaN(r.massFraction));
  const mean = (xs: number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : NaN);
  return {
    patients: rows.length,
    emptyMaps: rows.length - valid.length,
    massFraction: mean(valid.map((r) => r.massFraction)),
    lesionFraction: mean(rows.map((r) => r.lesionFraction)),
    hitRate: rows.length ? rows.filter((r) => r.hit).length / rows.length : NaN,
  };
}
