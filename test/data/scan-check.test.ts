import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { discoverCohort } from '../../src/data/cohort';
import { describeSkippedScan, SCAN_CHECKS_FILE, usableScans } from '../../src/data/scan-check';
import { damagedCopy } from '../support/cohort';
import { tempDir } from '../support/paths';

describe('data/scan-check: patients whose scans can be trained on', () => {
  it('passes over a truncated and a vanished scan with why, keeps the rest in order, and remembers verdicts by file state', async () => {
    const root = await damagedCopy();
    const patients = discoverCohort(root).patients;
    const [truncated, vanished, edited] = [patients[3], patients[7], patients[11]];
    const bytes = fs.readFileSync(truncated.imagePath);
    fs.writeFileSync(truncated.imagePath, bytes.subarray(0, bytes.length >> 1));
    fs.rmSync(vanished.imagePath);
    const cache = tempDir();
    let read = 0;
    const first = await usableScans(patients, cache, { onProgress: () => read++ });
    assert.equal(read, patients.length - 1, 'every scan that exists is read once');
    assert.deepEqual(first.skipped.map((s) => s.patientId), [truncated.id, vanished.id]);
    assert.match(first.skipped[0].reason, /^gzip stream expected complete compressed data, got truncated file$/);
    assert.equal(first.skipped[1].reason, 'scan file expected, got none');
    assert.equal(describeSkippedScan(first.skipped[0]), `patient ${truncated.id} skipped: ${first.skipped[0].reason} (${truncated.imagePath})`);
    assert.deepEqual(first.usable.map((p) => p.id), patients.filter((p) => p !== truncated && p !== vanished).map((p) => p.id));

    read = 0;
    const again = await usableScans(patients, cache, { onProgress: () => read++ });
    assert.equal(read, 0, 'verdicts come from the memo');
    assert.deepEqual(again, first);

    // Mending the truncated scan and touching another change their keys: only those two are read again.
    fs.writeFileSync(truncated.imagePath, bytes);
    const later = new Date(Date.now() + 5000);
    fs.utimesSync(edited.imagePath, later, later);
    read = 0;
    const mended = await usableScans(patients, cache, { onProgress: () => read++ });
    assert.equal(read, 2);
    assert.deepEqual(mended.skipped.map((s) => s.patientId), [vanished.id]);

    // A damaged memo only costs a reread.
    fs.writeFileSync(path.join(cache, SCAN_CHECKS_FILE), '{"version": 1, "sca');
    read = 0;
    assert.deepEqual((await usableScans(patients, cache, { onProgress: () => read++ })).skipped, mended.skipped);
    assert.equal(read, patients.length - 1);
    assert.deepEqual(await usableScans([], tempDir()), { usable: [], skipped: [] });
  });
});
