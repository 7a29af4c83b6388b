import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../io/atomic';
import { fileStamp } from '../io/file-stamp';
import { encodeNpy, readNpy } from '../io/npy';
import { readVolume } from '../io/read-volume';
import { PreprocessedVolume, preprocessVolume, PreprocessOptions, resolvePreprocessOptions, VolumeShape } from './preprocess';

/** Bumped when preprocessing code changes what it writes, so old cache entries are never reused. */
const CACHE_FORMAT = 1;

function hash(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 16);
}

/**
 * A disk cache of preprocessed volumes (float32 .npy), one folder per preprocessing setting, one file per scan keyed
 * by the scan's path, size and modification time. Writes are atomic; deleting the folder is always safe.
 */
export class VolumeCache {
  /** Folder of this setting's entries. */
  readonly dir: string;
  private readonly options: Required<PreprocessOptions>;

  /**
   * @param root cache root (default data/cache).
   * @param options preprocessing settings; every default is resolved before keying, so equal settings share entries.
   */
  constructor(root: string, options: PreprocessOptions = {}) {
    this.options = resolvePreprocessOptions(options);
    const settings = JSON.stringify({ format: CACHE_FORMAT, ...this.options });
    this.dir = path.join(root, `preprocessed-${hash(settings)}`);
    const meta = path.join(this.dir, 'settings.json');
    if (!fs.existsSync(meta)) writeFileAtomic(meta, JSON.stringify({ format: CACHE_FORMAT, ...this.options }, null, 2) + '\n');
  }

  /**
   * Entry path for a scan file (stat-keyed, so an edited scan misses the cache); the intensity rule that was
   * applied ('hu' or 'unit') ends the name.
   */
  entryPath(file: string, intensity: 'hu' | 'unit'): string {
    const key = hash(fileStamp(file));
    return path.join(this.dir, `${path.basename(file).replace(/\.(nii\.gz|nii|npy)$/i, '')}-${key}-${intensity}.npy`);
  }

  /** The preprocessed volume of a scan: read from the cache, or computed and stored. */
  async get(file: string): Promise<PreprocessedVolume> {
    for (const intensity of ['hu', 'unit'] as const) {
      const entry = this.entryPath(file, intensity);
      if (!fs.existsSync(entry)) continue;
      try {
        const arr = readNpy(entry);
        if (arr.dtype === 'float32' && arr.shape.join() === this.options.size.join()) {
          return { data: arr.data as Float32Array, shape: arr.shape as VolumeShape, intensity };
        }
      } catch {
        // A damaged entry is recomputed below.
      }
    }
    const volume = await readVolume(file);
    const result = preprocessVolume(volume, this.options);
    writeFileAtomic(this.entryPath(file, result.intensity), encodeNpy(result.data, result.shape));
    return result;
  }
}

/** One batch of volumes: the positions it holds and the voxels stacked as [batch, depth, height, width]. */
export interface VolumeBatch {
  indices: number[];
  data: Float32Array;
  shape: [number, number, number, number];
}

/**
 * Iterates a split in batches, loading each volume through `load` (e.g. a cache, then augmentation).
 * @param indices positions to visit, in order (shuffle them before for a training epoch).
 * @param dropLast drop a final batch smaller than `batchSize` (default false).
 */
export async function* iterateBatches(
  indices: readonly number[],
  batchSize: number,
  load: (index: number) => Promise<{ data: Float32Array; shape: VolumeShape }>,
  dropLast = false,
): AsyncGenerator<VolumeBatch> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`batch size expected a positive integer, got ${batchSize}`);
  for (let start = 0; start < indices.length; start += batchSize) {
    const part = indices.slice(start, start + batchSize);
    if (dropLast && part.length < batchSize) break;
    const volumes = [];
    for (const i of part) volumes.push(await load(i));
    const shape = volumes[0].shape;
    const size = shape[0] * shape[1] * shape[2];
    const data = new Float32Array(part.length * size);
    volumes.forEach((v, k) => {
      if (v.shape.join() !== shape.join()) throw new Error(`batch volumes expected shape [${shape.join(', ')}], got [${v.shape.join(', ')}] (index ${part[k]})`);
      data.set(v.data, k * size);
    });
    yield { indices: part, data, shape: [part.length, shape[0], shape[1], shape[2]] };
  }
}
