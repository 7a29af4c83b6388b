import * as fs from 'node:fs';
import * as path from 'node:path';

/** The project root: the folder holding package.json, found from this file whether run from src/ or dist/. */
export function projectRoot(): string {
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'src'))) return dir;
    dir = path.dirname(dir);
  }
  return process.cwd();
}

/** The dataset root: `ICH_DATA_DIR` when set, else the embedded synthetic cohort `data/synthetic`. */
export function dataDir(): string {
  const fromEnv = process.env.ICH_DATA_DIR;
  return fromEnv && fromEnv.trim() !== '' ? path.resolve(fromEnv) : path.join(projectRoot(), 'data', 'synthetic');
}

/** Where preprocessed volumes are cached: `ICH_CACHE_DIR`, else data/cache. */
export function cacheDir(): string {
  const fromEnv = process.env.ICH_CACHE_DIR;
  return fromEnv && fromEnv.trim() !== '' ? path.resolve(fromEnv) : path.join(projectRoot(), 'data', 'cache');
}

/** Where figures are written: `ICH_FIGURES_DIR`, else figures/. */
export function figuresDir(): string {
  const fromEnv = process.env.ICH_FIGURES_DIR;
  return fromEnv && fromEnv.trim() !== '' ? path.resolve(fromEnv) : path.join(projectRoot(), 'figures');
}

/** Where training runs go: `ICH_RUNS_DIR`, else runs/. */
export function runsDir(): string {
  const fromEnv = process.env.ICH_RUNS_DIR;
  return fromEnv && fromEnv.trim() !== '' ? path.resolve(fromEnv) : path.join(projectRoot(), 'runs');
}
