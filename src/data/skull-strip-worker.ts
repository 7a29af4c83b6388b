/**
 * Worker thread of data/skull-strip-cohort: receives one raw scan at a time (`{ index, scan }`), strips it as the job
 * in `workerData` says, and answers `{ index, result }`; `null` ends it. One scan at a time keeps the threads busy
 * however uneven the scans are, and a crash costs only the scan in hand.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RawScan, SkullStripJob, stripRawScan } from './skull-strip-scan';

const job = workerData as SkullStripJob;
parentPort!.on('message', async (msg: { index: number; scan: RawScan } | null) => {
  if (msg === null) {
    parentPort!.close();
    return;
  }
  parentPort!.postMessage({ index: msg.index, result: await stripRawScan(msg.scan, job) });
});
