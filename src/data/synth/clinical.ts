import { CLINICAL_COLUMNS, LABEL_COLUMN } from '../clinical';
import { SeededRandom, deriveSeed } from '../../math/random';
import { spearman } from '../../math/ranks';
import { round } from '../../math/round';
import { GCS_COUNTS, LABEL_SPEARMAN, REAL_PATIENTS_WITH_IMAGE, REAL_POOR, scaleCounts, SCANNERS, SLICE_COUNTS } from './targets';

/** One synthetic patient's clinical row and the hidden variables its scan is drawn from. */
export interface SynthPatient {
  id: number;
  /** False for patient 213: a clinical row without a scan, as in the real data. */
  hasImage: boolean;
  label: 0 | 1;
  age: number;
  gcs: number;
  /** All 43 columns by name (ID and label included). */
  row: Record<string, number>;
  slices: number;
  scanner: string;
  /** Severity in [0, 1] from GCS (0 = GCS 15, 1 = GCS 3). */
  severity: number;
}

/** Sorted `values` handed out in the order of `latent`: the largest value goes to the largest latent. */
function assignByRank(values: readonly number[], latent: readonly number[]): number[] {
  const sortedValues = values.slice().sort((a, b) => a - b);
  const order = latent.map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v || a.i - b.i);
  const out = new Array<number>(values.length);
  order.forEach(({ i }, k) => (out[i] = sortedValues[k]));
  return out;
}

/**
 * Hands out `values` so that their Spearman correlation with `labels` is as close as possible to `target`:
 * latent = w * label + noise (+ `extra`), with w found by bisection (the correlation grows with w).
 */
function assignWithSpearman(
  values: readonly number[],
  labels: readonly number[],
  target: number,
  rng: SeededRandom,
  extra?: readonly number[],
): number[] {
  const noise = labels.map(() => rng.normal());
  const build = (w: number) => assignByRank(values, labels.map((y, i) => w * y + noise[i] + (extra ? extra[i] : 0)));
  let lo = -6;
  let hi = 6;
  for (let it = 0; it < 50; it++) {
    const mid = (lo + hi) / 2;
    if (spearman(build(mid), labels) < target) lo = mid;
    else hi = mid;
  }
  return build((lo + hi) / 2);
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** Plausible marginal distributions of the numeric columns: sampler, range and decimals. */
const NUMERIC: Record<string, { draw: (r: SeededRandom) => number; min: number; max: number; digits: number }> = {
  Systolic_AP: { draw: (r) => 165 + 30 * r.normal(), min: 80, max: 260, digits: 0 },
  Dyastolic_AP: { draw: (r) => 90 + 17 * r.normal(), min: 40, max: 150, digits: 0 },
  OxSat: { draw: (r) => 99 - Math.abs(3.5 * r.normal()), min: 75, max: 100, digits: 0 },
  'Tº': { draw: (r) => 36.3 + 0.6 * r.normal(), min: 34.5, max: 39.8, digits: 1 },
  HR: { draw: (r) => 82 + 17 * r.normal(), min: 40, max: 160, digits: 0 },
  RF: { draw: (r) => 17 + 4 * r.normal(), min: 8, max: 40, digits: 0 },
  Glucose: { draw: (r) => 140 * Math.exp(0.3 * r.normal()), min: 60, max: 500, digits: 0 },
  Creatinine: { draw: (r) => 0.95 * Math.exp(0.35 * r.normal()), min: 0.4, max: 6, digits: 2 },
  Urea: { draw: (r) => 45 * Math.exp(0.45 * r.normal()), min: 10, max: 250, digits: 0 },
  Sodium: { draw: (r) => 139 + 4 * r.normal(), min: 120, max: 160, digits: 0 },
  Potassium: { draw: (r) => 4 + 0.5 * r.normal(), min: 2.5, max: 6.5, digits: 1 },
  WBC: { draw: (r) => 9.5 * Math.exp(0.35 * r.normal()), min: 2, max: 35, digits: 1 },
  Hgb: { draw: (r) => 13.6 + 1.8 * r.normal(), min: 7, max: 19, digits: 1 },
  Platelets: { draw: (r) => 220 + 70 * r.normal(), min: 20, max: 600, digits: 0 },
  MCV: { draw: (r) => 90 + 6 * r.normal(), min: 65, max: 115, digits: 1 },
  RCDW: { draw: (r) => 13.2 + 1.5 * Math.exp(0.5 * r.normal()), min: 11, max: 25, digits: 1 },
  CMHC: { draw: (r) => 33.5 + 1.2 * r.normal(), min: 28, max: 38, digits: 1 },
  MPV: { draw: (r) => 10.2 + 1.1 * r.normal(), min: 7, max: 14, digits: 1 },
  INR: { draw: (r) => 1.05 * Math.exp(0.18 * Math.abs(r.normal())), min: 0.8, max: 6, digits: 2 },
  Fibrinogen: { draw: (r) => 420 + 110 * r.normal(), min: 150, max: 900, digits: 0 },
};

/** Prevalence of each binary column. */
const PREVALENCE: Record<string, number> = {
  Gender: 0.55,
  Antihypertensive_drugs: 0.55,
  Smoker: 0.2,
  Alcohol: 0.15,
  HT: 0.65,
  DM: 0.25,
  Dyslipidemia: 0.4,
  MH_ICH: 0.08,
  MH_CVD: 0.15,
  MH_neuro: 0.2,
  MH_dementia: 0.08,
  MH_cancer: 0.12,
  MH_hematho: 0.05,
  MH_others: 0.4,
  Anticoagulant: 0.18,
  Antiaggregant: 0.25,
  Calcium_antag: 0.15,
  Alpha_blockers: 0.07,
  PE_neuro: 0.8,
};

/** Columns that also rise with age in real cohorts (their latent gets an age term). */
const AGE_LINKED = new Set(['HT', 'MH_dementia', 'Antiaggregant', 'Anticoagulant', 'Antihypertensive_drugs', 'Creatinine', 'Urea', 'RCDW']);

/**
 * Generates the synthetic clinical table: `patients` rows (default 262, IDs 1..n), patient 213 without a scan,
 * 162/261 poor among those with one, the exact GCS and slice-count histograms (scaled by largest remainder for other
 * sizes), Spearman(label) of age +0.389 and GCS -0.343 and of the other strong variables at their reported values,
 * every other column plausible with a weak random association. Deterministic for the seed.
 */
export function generateClinical(seed: number, patients = 262): SynthPatient[] {
  if (!Number.isInteger(patients) || patients < 20) throw new Error(`synthetic cohort size expected an integer >= 20, got ${patients}`);
  const rng = new SeededRandom(deriveSeed(seed, 1));
  const ids = Array.from({ length: patients }, (_, i) => i + 1);
  const withImage = ids.filter((id) => id !== 213);
  const n = withImage.length;
  const nPoor = Math.round((n * REAL_POOR) / REAL_PATIENTS_WITH_IMAGE);
  const labels = rng.shuffle(withImage.map((_, i) => (i < nPoor ? 1 : 0)));

  const gcsCounts = n === REAL_PATIENTS_WITH_IMAGE ? GCS_COUNTS.slice() : scaleCounts(GCS_COUNTS, n);
  const gcsValues = gcsCounts.flatMap((c, k) => new Array<number>(c).fill(k + 3));
  const gcs = assignWithSpearman(gcsValues, labels, LABEL_SPEARMAN.GCS, rng);

  const ageValues = withImage.map(() => Math.round(clamp(70 + 13 * rng.normal() - 4 * Math.abs(rng.normal()), 18, 99)));
  const ages = assignWithSpearman(ageValues, labels, LABEL_SPEARMAN.Age, rng);
  const ageZ = ages.map((a) => (a - 68) / 13);

  const columns: Record<string, number[]> = {};
  for (const spec of CLINICAL_COLUMNS) {
    const name = spec.name;
    if (name === 'PatientID' || name === LABEL_COLUMN || name === 'Age' || name === 'GCS') continue;
    const target = LABEL_SPEARMAN[name] ?? 0.12 * (rng.uniform() * 2 - 1);
    const extra = AGE_LINKED.has(name) ? ageZ.map((z) => 0.6 * z) : undefined;
    let values: number[];
    if (spec.kind === 'binary') {
      const ones = Math.round((PREVALENCE[name] ?? 0.2) * n);
      values = withImage.map((_, i) => (i < ones ? 1 : 0));
    } else {
      const m = NUMERIC[name];
      values = withImage.map(() => round(clamp(m.draw(rng), m.min, m.max), m.digits));
    }
    columns[name] = assignWithSpearman(values, labels, target, rng, extra);
  }

  const sliceCounts = scaleCounts(SLICE_COUNTS.map(([, c]) => c), n);
  const slices = rng.shuffle(SLICE_COUNTS.flatMap(([s], k) => new Array<number>(sliceCounts[k]).fill(s)));
  const scannerOf = new Array<string>(n);
  for (const y of [0, 1] as const) {
    const members = labels.flatMap((l, i) => (l === y ? [i] : []));
    rng.shuffle(members);
    const counts = scaleCounts(SCANNERS.map((s) => (y === 0 ? s[1] : s[2])), members.length);
    let k = 0;
    SCANNERS.forEach(([name], s) => {
      for (let c = 0; c < counts[s]; c++) scannerOf[members[k++]] = name;
    });
  }

  const out: SynthPatient[] = withImage.map((id, i) => {
    const row: Record<string, number> = { PatientID: id, [LABEL_COLUMN]: labels[i], Age: ages[i], GCS: gcs[i] };
    for (const name of Object.keys(columns)) row[name] = columns[name][i];
    return {
      id,
      hasImage: true,
      label: labels[i] as 0 | 1,
      age: ages[i],
      gcs: gcs[i],
      row,
      slices: slices[i],
      scanner: scannerOf[i],
      severity: (15 - gcs[i]) / 12,
    };
  });
  if (patients >= 213) {
    // Patient 213: a complete clinical row whose scan is missing, dropped by every consumer as in the paper.
    const donor = out[rng.int(out.length)];
    const row = { ...donor.row, PatientID: 213 };
    out.splice(212, 0, { ...donor, id: 213, hasImage: false, row });
  }
  return out;
}
