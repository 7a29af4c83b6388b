import * as fs from 'node:fs';
import * as path from 'node:path';
import { projectRoot } from '../config/paths';

/** Mean and sample std over folds of one model, as the paper reports them. */
export interface ReportedModel {
  mean: Record<string, number>;
  std: Record<string, number>;
}

/** The study's reported numbers (data/reference/paper_results.json); always labelled paper-reported where shown. */
export interface PaperReference {
  source: string;
  cohort: {
    patients: number;
    poor: number;
    good: number;
    gcsCounts: Record<string, number>;
    sliceCounts: Record<string, number>;
    spearmanWithLabel: Record<string, number>;
    [key: string]: unknown;
  };
  crossValidation: { metrics: string[]; note: string; models: Record<string, ReportedModel> };
  fold0Readers: { patients: number; poor: number; good: number; metrics: string[]; rows: Record<string, Record<string, number | null>> };
  earlierWork: Record<string, unknown>;
}

/** Reads the paper's reported numbers. @throws naming the file when it is missing or not the expected JSON. */
export function paperReference(file = path.join(projectRoot(), 'data', 'reference', 'paper_results.json')): PaperReference {
  let data: PaperReference;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`paper reference expected readable JSON, got ${(err as NodeJS.ErrnoException).code ?? (err as Error).message} (${file})`);
  }
  if (!data.crossValidation?.models) throw new Error(`paper reference expected crossValidation.models, got none (${file})`);
  return data;
}
