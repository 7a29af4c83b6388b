import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { iterateBatches, VolumeCache } from '../../src/data/cache';
import { discoverCohort } from '../../src/data/cohort';
import { preprocessVolume } from '../../src/data/preprocess';
import { readVolume } from '../../src/io/read-volume';
import { smallCohort } from '../support/cohort';
import { tempDir } from '../support/paths';

describe('data/cache and batches', () => {
  it('stores preprocessed volumes once per setting and returns identical values from disk', async () => {
    const root = await smallCohort();
    const [p] = discoverCohort(root).patients;
    const dir = tempDir();
    const cache = new VolumeCache(dir, { size: [8, 16, 16] });
    const first = await cache.get(p.imagePath);
    const entries = fs.readdirSync(cache.dir).filter((f) => f.endsWith('.npy'));
    assert.equal(entries.length, 1);
    assert.ok(fs.readdirSync(cache.dir).every((f) => !f.includes('.tmp-')), 'no temporary files left');
    const again = await new VolumeCache(dir, { size: [8, 16, 16], quirks: 'paper' }).get(p.imagePath);
    assert.deepEqual(Array.from(again.data), Array.from(first.data));
    const direct = preprocessVolume(await readVolume(p.imagePath), { size: [8, 16, 16] });
    assert.deepEqual(Array.from(first.data), Array.from(direct.data));
    const other = new VolumeCache(dir, { size: [8, 16, 16], quirks: 'fixed' });
    assert.notEqual(other.dir, cache.dir, 'another setting, another folder');
  });

  it('recomputes a damaged entry', async () => {
    const root = await smallCohort();
    const [p] = discoverCohort(root).patients;
    const dir = tempDir();
    const cache = new VolumeCache(dir, { size: [4, 8, 8] });
    const good = await cache.get(p.imagePath);
    const entry = path.join(cache.dir, fs.readdirSync(cache.dir).find((f) => f.endsWith('.npy'))!);
    fs.writeFileSync(entry, 'garbage');
    assert.deepEqual(Array.from((await cache.get(p.imagePath)).data), Array.from(good.data));
  });

  it('iterates a split in batches of [B, D, H, W], the last one short unless dropped', async () => {
    const load = async (i: number) => ({ data: new Float32Array(8).fill(i), shape: [2, 2, 2] as [number, number, number] });
    const batches = [];
    for await (const b of iterateBatches([5, 6, 7, 8, 9], 2, load)) batches.push(b);
    assert.deepEqual(batches.map((b) => b.indices), [[5, 6], [7, 8], [9]]);
    assert.deepEqual(batches[0].shape, [2, 2, 2, 2]);
    assert.equal(batches[1].data[8], 8);
    const dropped = [];
    for await (const b of iterateBatches([1, 2, 3], 2, load, true)) dropped.push(b.indices);
    assert.deepEqual(dropped, [[1, 2]]);
    await assert.rejects(async () => {
      for await (const b of iterateBatches([1], 0, load)) void b;
    }, /batch size expected a positive integer, got 0/);
  });
});
