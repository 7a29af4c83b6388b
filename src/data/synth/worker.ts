import { parentPort, workerData } from 'node:worker_threads';
import { SynthPatient } from './clinical';
import { writeSynthPatient } from './write-patient';

/** Worker thread: renders and writes the patients it is given, reporting each one as it finishes. */
interface Job {
  root: string;
  seed: number;
  inPlane: number;
  patients: SynthPatient[];
}

const job = workerData as Job;
for (const patient of job.patients) {
  try {
    const written = writeSynthPatient(job.root, patient, job.seed, job.inPlane);
    parentPort!.postMessage({ ok: true, written });
  } catch (err) {
    parentPort!.postMessage({ ok: false, id: patient.id, error: (err as Error).message });
  }
}
