import { preprocessVolume, Quirks, VolumeShape } from '../../data/preprocess';
import { writeNpy } from '../../io/npy';
import { readVolume } from '../../io/read-volume';
import { parseArgs, stringFlag, UsageError, volumeSizeFlag } from '../args';

/**
 * `ich preprocess FILE --out OUT.npy [--size 40,301,301] [--quirks paper|fixed]`: the volume as the network sees it
 * before augmentation, float32 C order [depth, height, width].
 */
export async function preprocessCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { out: 'string', size: 'string', quirks: 'string', 'pad-depth': 'string', 'npy-axes': 'string' }, 'ich preprocess');
  if (args.positional.length !== 1) throw new UsageError(`ich preprocess: expected one FILE, got ${args.positional.length}`);
  const out = stringFlag(args, 'out');
  if (!out || !out.endsWith('.npy')) throw new UsageError(`ich preprocess: --out expected a path ending in .npy, got ${out ? `"${out}"` : 'none'}`);
  const size = volumeSizeFlag(args, 'size', [40, 301, 301]);
  const quirks = stringFlag(args, 'quirks', 'paper');
  if (quirks !== 'paper' && quirks !== 'fixed') throw new UsageError(`--quirks expected paper or fixed, got "${quirks}"`);
  const padText = stringFlag(args, 'pad-depth', '40')!;
  const padDepth = Number(padText);
  if (!Number.isInteger(padDepth) || padDepth < 1) throw new UsageError(`--pad-depth expected a positive integer, got "${padText}"`);
  const axes = stringFlag(args, 'npy-axes', 'xyz');
  if (axes !== 'xyz' && axes !== 'zyx') throw new UsageError(`--npy-axes expected xyz or zyx, got "${axes}"`);
  const volume = await readVolume(args.positional[0], axes);
  const result = preprocessVolume(volume, { size, quirks: quirks as Quirks, padDepth });
  writeNpy(out, result.data, result.shape);
  process.stderr.write(`wrote ${out}: float32 [${result.shape.join(', ')}] (${result.intensity === 'hu' ? 'HU windowed' : 'values already in [0, 1]'})\n`);
  return 0;
}
