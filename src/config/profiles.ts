import { VolumeShape } from '../data/preprocess';
import { DENSENET121, DenseNetConfig } from '../models/densenet-config';

/** Names of the run profiles (DESIGN.md, "Profiles"). */
export type ProfileName = 'quick' | 'cpu' | 'paper';

/** A run profile: volume size, network size and the training schedule. */
export interface Profile {
  name: ProfileName;
  /** What it is for, in one line. */
  purpose: string;
  /** Preprocessed input [depth, height, width]. */
  inputSize: VolumeShape;
  /** Depth the scans are zero-padded to before resizing (the paper's 40 in every profile). */
  padDepth: number;
  /** At most this many patients (null: all). */
  maxPatients: number | null;
  folds: number;
  epochs: number;
  /** Early stopping after this many epochs without improvement. */
  patience: number;
  batchSize: number;
  /** Gradient accumulation over this many batches. */
  accumulation: number;
  /** DenseNet size: the paper's DenseNet-121, or a narrower one where a CPU must finish in time. */
  densenet: DenseNetConfig;
  /**
   * Seconds one notebook cell may run under `ich export` (null: no limit). A limit catches a hung kernel in CI; a
   * cell of the longer profiles trains several models over 10 folds (hours on a CPU, days for `paper`), and the runs
   * it leaves in runs/ resume on the next export anyway.
   */
  cellTimeoutSeconds: number | null;
}

/** The three profiles. `paper` is the study's exact configuration (paper.md, "Training"). */
export const PROFILES: Record<ProfileName, Profile> = {
  quick: {
    name: 'quick',
    purpose: 'CI and smoke runs: tiny volumes, few patients and epochs; every notebook executes on it',
    inputSize: [40, 48, 48],
    padDepth: 40,
    maxPatients: 60,
    folds: 10,
    epochs: 2,
    patience: 20,
    batchSize: 4,
    accumulation: 3,
    densenet: { blocks: [1, 2, 2, 1], growth: 8, initFeatures: 16, bnSize: 2, dropout: 0.2 },
    cellTimeoutSeconds: 3600,
  },
  cpu: {
    name: 'cpu',
    purpose: 'the best science a 2-core machine can do in a few hours on the synthetic cohort',
    inputSize: [40, 64, 64],
    padDepth: 40,
    maxPatients: null,
    folds: 10,
    epochs: 30,
    patience: 10,
    batchSize: 8,
    accumulation: 3,
    densenet: { blocks: [3, 6, 12, 8], growth: 16, initFeatures: 32, bnSize: 4, dropout: 0.2 },
    cellTimeoutSeconds: null,
  },
  paper: {
    name: 'paper',
    purpose: "the paper's configuration (40x301x301, batch 8, accumulation 3, 10 folds, 100 epochs, patience 20); for a GPU",
    inputSize: [40, 301, 301],
    padDepth: 40,
    maxPatients: null,
    folds: 10,
    epochs: 100,
    patience: 20,
    batchSize: 8,
    accumulation: 3,
    densenet: DENSENET121,
    cellTimeoutSeconds: null,
  },
};

/** The profile named by `name`, or by `ICH_PROFILE`, default 'quick'. */
export function getProfile(name: string | undefined = process.env.ICH_PROFILE): Profile {
  const key = (name && name.trim() !== '' ? name.trim() : 'quick') as ProfileName;
  const profile = PROFILES[key];
  if (!profile) throw new Error(`profile expected one of ${Object.keys(PROFILES).join(', ')}, got "${name}"`);
  return profile;
}
