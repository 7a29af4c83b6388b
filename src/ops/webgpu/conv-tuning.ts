import * as fs from 'node:fs';
import { writeFileAtomic } from '../../io/atomic';
import type { ConvPass, ConvShape, ConvTiling } from './conv3d-gemm';

/**
 * A conv GEMM tiling per pass and convolution shape, measured on one GPU (`ich bench tune`, src/train/tune-conv.ts)
 * and read back with ICH_WGSL_CONV_TUNING=FILE: the analogue of cuDNN's benchmark mode, whose choice is fixed in a
 * file so that runs stay deterministic for a seed (each tiling sums in its own order). Not a paper step: speed only.
 */
export interface ConvTuningTable {
  /** {@link CONV_TUNING_FORMAT}. */
  format: string;
  /** The backend and adapter it was measured on (the backend report's package line). */
  adapter: string;
  /** ISO time of the measurement. */
  created: string;
  /** Input size and batch of the training step whose convolutions were tuned. */
  input: { shape: [number, number, number]; batch: number };
  /** One entry per {@link convTuningKey}: the fastest tiling, its time and the default tiling's (ms per pass). */
  entries: Record<string, ConvTuningEntry>;
}

/** One tuned pass: the tiling chosen and what it and the default measured (ms per pass, best trial). */
export interface ConvTuningEntry {
  rows: 4 | 8;
  vectorLoads: boolean;
  splitK: boolean;
  columns: 32 | 64;
  /** Absent in files written before the knob existed: off. */
  prefetch?: boolean;
  ms: number;
  defaultMs: number;
}

export const CONV_TUNING_FORMAT = 'ich-conv-tuning/1';

/** The table key of a pass and shape, e.g. "forward b4 40x301x301x1 -> 64 k7 s2 p3". */
export function convTuningKey(pass: ConvPass, c: ConvShape): string {
  return `${pass} b${c.b} ${c.d}x${c.h}x${c.w}x${c.cin} -> ${c.cout} k${c.k} s${c.s} p${c.p}`;
}

let table: { tilings: Map<string, ConvTiling>; source: string } | null = null;

/**
 * Makes the conv GEMM use a table's tilings for the passes it lists (other passes keep {@link convTiling}'s); null
 * forgets it. Called by backend.ts (ICH_WGSL_CONV_TUNING) and by tests.
 */
export function useConvTuning(t: ConvTuningTable | null, source = 'table'): void {
  table = t
    ? { tilings: new Map(Object.entries(t.entries).map(([k, e]) => [k, { rows: e.rows, vectorLoads: e.vectorLoads, splitK: e.splitK, columns: e.columns, prefetch: e.prefetch ?? false }])), source }
    : null;
}

/** The tuned tiling of a pass, or undefined when no table is in use or it does not list this pass and shape. */
export function tunedConvTiling(pass: ConvPass, c: ConvShape): ConvTiling | undefined {
  return table?.tilings.get(convTuningKey(pass, c));
}

/** Where the tilings in use came from and how many passes they cover, or null without a table. */
export function convTuningInUse(): { source: string; passes: number } | null {
  return table ? { source: table.source, passes: table.tilings.size } : null;
}

/** A pass and shape the conv GEMM ran, with how often, while {@link recordConvPasses} listened. */
export interface RecordedConvPass {
  pass: ConvPass;
  shape: ConvShape;
  count: number;
}

let recording: Map<string, RecordedConvPass> | null = null;

/** Called by the conv GEMM for every pass it runs; counts it while {@link recordConvPasses} listens. */
export function noteConvPass(pass: ConvPass, shape: ConvShape): void {
  if (!recording) return;
  const key = convTuningKey(pass, shape);
  const seen = recording.get(key);
  if (seen) seen.count++;
  else recording.set(key, { pass, shape: { ...shape }, count: 1 });
}

/** Runs `body` and returns every conv GEMM pass it ran (e.g. one training step), in order of first use. */
export async function recordConvPasses(body: () => Promise<void>): Promise<RecordedConvPass[]> {
  if (recording) throw new Error('recordConvPasses expected no recording in progress, got a nested call');
  recording = new Map();
  try {
    await body();
    return [...recording.values()];
  } finally {
    recording = null;
  }
}

/**
 * Reads and checks a tuning file written by {@link writeConvTuning}.
 * @throws naming the file (and the entry) when it is missing, not JSON, of another format or holds a bad tiling.
 */
export function readConvTuning(file: string): ConvTuningTable {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`conv tuning file expected to be readable (written by "ich bench tune --out FILE"), got ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (${file})`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new Error(`conv tuning file expected JSON, got ${(err as Error).message} (${file})`);
  }
  const t = parsed as Partial<ConvTuningTable>;
  if (!t || typeof t !== 'object' || t.format !== CONV_TUNING_FORMAT) {
    throw new Error(`conv tuning file expected format "${CONV_TUNING_FORMAT}", got ${JSON.stringify(t?.format ?? null)} (${file})`);
  }
  if (!t.entries || typeof t.entries !== 'object') throw new Error(`conv tuning file expected an "entries" object, got ${JSON.stringify(t.entries ?? null)} (${file})`);
  for (const [key, e] of Object.entries(t.entries)) {
    const where = `entry "${key}" of ${file}`;
    if (!/^(forward|backwardData|backwardWeights) b\d+ \d+x\d+x\d+x\d+ -> \d+ k\d+ s\d+ p\d+$/.test(key)) {
      throw new Error(`conv tuning key expected "<pass> b<B> <D>x<H>x<W>x<Cin> -> <Cout> k<k> s<s> p<p>", got "${key}" (${file})`);
    }
    if (e?.rows !== 4 && e?.rows !== 8) throw new Error(`conv tuning rows expected 4 or 8, got ${JSON.stringify(e?.rows ?? null)} (${where})`);
    if (e.columns !== 32 && e.columns !== 64) throw new Error(`conv tuning columns expected 32 or 64, got ${JSON.stringify(e.columns ?? null)} (${where})`);
    for (const flag of ['vectorLoads', 'splitK'] as const) {
      if (typeof e[flag] !== 'boolean') throw new Error(`conv tuning ${flag} expected true or false, got ${JSON.stringify(e[flag] ?? null)} (${where})`);
    }
    if (e.prefetch !== undefined && typeof e.prefetch !== 'boolean') {
      throw new Error(`conv tuning prefetch expected true, false or absent, got ${JSON.stringify(e.prefetch)} (${where})`);
    }
  }
  return t as ConvTuningTable;
}

/** Writes a tuning table atomically (a killed run leaves the previous file or none, never half of one). */
export function writeConvTuning(file: string, t: ConvTuningTable): void {
  writeFileAtomic(file, JSON.stringify(t, null, 1) + '\n');
}
