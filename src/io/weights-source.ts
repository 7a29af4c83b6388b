import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isSafetensors, readSafetensors } from './safetensors';
import { findStateDict, readTorchFile, TorchTensor } from './torch-file';

/** A state dict read from a weights file or folder, and what it was read from. */
export interface WeightsSource {
  state: Map<string, TorchTensor>;
  /** The files read (absolute), in order: one, or a sharded checkpoint's shards. */
  files: string[];
  /** SHA-256 of the files' bytes, one after another in that order: the import's provenance. */
  sha256: string;
}

/** Weights file names a folder may hold (torch.save's, safetensors, Lightning's .ckpt, Hugging Face's .bin). */
const WEIGHT_FILE = /\.(safetensors|pt|pth|bin|ckpt)$/i;
/** What Hugging Face's loaders take from a model folder, in their order of preference. */
const HUB_FILES = ['model.safetensors', 'pytorch_model.bin'];
const HUB_INDEXES = ['model.safetensors.index.json', 'pytorch_model.bin.index.json'];

/** The state dict in one file: safetensors (told apart by its first bytes) or torch.save's formats. */
function readStateDictFile(file: string, bytes: Buffer): Map<string, TorchTensor> {
  return isSafetensors(bytes) ? readSafetensors(file, bytes).tensors : findStateDict(readTorchFile(file, bytes), file);
}

/**
 * Reads the state dict that `from` names: a weights file, or a folder as a Hugging Face download leaves it
 * (`model.safetensors` or `pytorch_model.bin`, their `*.index.json` with the shards it maps every key to, or else the
 * folder's only .safetensors / .pt / .pth / .bin / .ckpt file).
 * @throws naming the folder when it holds no weights file or several without one of those names (listing them), or
 *   an index whose shards do not hold exactly the keys it maps to them; a file's own faults as its reader names them.
 */
export function readWeightsSource(from: string): WeightsSource {
  if (!fs.statSync(from).isDirectory()) return readFiles([from], (state) => state[0]);
  const names = fs.readdirSync(from).sort();
  const index = HUB_INDEXES.find((n) => names.includes(n));
  if (index) return readSharded(path.join(from, index));
  const hub = HUB_FILES.find((n) => names.includes(n));
  const candidates = names.filter((n) => WEIGHT_FILE.test(n) && fs.statSync(path.join(from, n)).isFile());
  const chosen = hub ?? (candidates.length === 1 ? candidates[0] : undefined);
  if (!chosen) {
    const got = candidates.length ? `${candidates.length}: ${candidates.slice(0, 8).join(', ')}${candidates.length > 8 ? ', ...' : ''}; name one as --from ${path.join(from, candidates[0])}` : 'none';
    throw new Error(`weights folder expected ${HUB_FILES.join(' or ')}, a sharded index (${HUB_INDEXES.join(', ')}) or a single .safetensors, .pt, .pth, .bin or .ckpt file, got ${got} (${from})`);
  }
  return readFiles([path.join(from, chosen)], (state) => state[0]);
}

/** Reads `files` in order, hashing their bytes, and merges their state dicts with `merge`. */
function readFiles(files: string[], merge: (states: Map<string, TorchTensor>[]) => Map<string, TorchTensor>): WeightsSource {
  const hash = crypto.createHash('sha256');
  const states = files.map((file) => {
    const bytes = fs.readFileSync(file);
    hash.update(bytes);
    return readStateDictFile(file, bytes);
  });
  return { state: merge(states), files: files.map((f) => path.resolve(f)), sha256: hash.digest('hex') };
}

/** A sharded checkpoint: the index's weight_map (key -> shard file) and the shards, each holding exactly its keys. */
function readSharded(indexFile: string): WeightsSource {
  let weightMap: unknown;
  try {
    weightMap = (JSON.parse(fs.readFileSync(indexFile, 'utf8')) as { weight_map?: unknown }).weight_map;
  } catch (err) {
    throw new Error(`weights index expected JSON, got ${(err as Error).message} (${indexFile})`);
  }
  if (typeof weightMap !== 'object' || weightMap === null || !Object.values(weightMap).every((s) => typeof s === 'string' && !s.includes('/') && !s.includes('\\'))) {
    throw new Error(`weights index expected a weight_map of tensor names to shard files in its folder, got ${JSON.stringify(weightMap)?.slice(0, 80)} (${indexFile})`);
  }
  const map = weightMap as Record<string, string>;
  const shards = [...new Set(Object.values(map))];
  const dir = path.dirname(indexFile);
  return readFiles(shards.map((s) => path.join(dir, s)), (states) => {
    const merged = new Map<string, TorchTensor>();
    states.forEach((state, i) => {
      for (const [key, t] of state) {
        if (map[key] !== shards[i]) throw new Error(`weights index expected shard ${shards[i]} to hold only the tensors it maps there, got ${key}${map[key] ? `, mapped to ${map[key]}` : ', mapped nowhere'} (${indexFile})`);
        merged.set(key, t);
      }
    });
    const missing = Object.keys(map).filter((k) => !merged.has(k));
    if (missing.length) throw new Error(`weights index expected tensor ${missing[0]} in shard ${map[missing[0]]}, got none${missing.length > 1 ? ` (and ${missing.length - 1} more)` : ''} (${indexFile})`);
    // In the index's order.
    return new Map(Object.keys(map).map((k) => [k, merged.get(k)!]));
  });
}
