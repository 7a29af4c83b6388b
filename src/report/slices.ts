import { Patient } from '../data/cohort';
import { preprocessVolume, PreprocessOptions, windowHounsfield } from '../data/preprocess';
import { readVolume } from '../io/read-volume';
import { volumeValues } from '../io/volume';
import { htmlImage } from './html';
import { displayScale, sliceToPng } from './png';

/**
 * One patient's scan at three stages, as HTML: the raw slice (brain window 0-80 HU), the paper's HU window with its
 * zeroing (15-100 HU to [0, 1]) and the preprocessed network input. The slice shown is the one with the most
 * blood-density voxels (50-90 HU), i.e. where the lesion usually is.
 */
export async function scanStagesHtml(patient: Patient, options: PreprocessOptions = {}): Promise<string> {
  const stripped = await readVolume(patient.imagePath);
  const raw = patient.rawImagePath ? await readVolume(patient.rawImagePath) : stripped;
  const [nx, ny, nz] = raw.dims;
  const rawValues = volumeValues(raw);
  let best = Math.floor(nz / 2);
  let bestCount = -1;
  for (let z = 0; z < nz; z++) {
    let c = 0;
    for (let i = z * nx * ny; i < (z + 1) * nx * ny; i++) if (rawValues[i] >= 50 && rawValues[i] <= 90) c++;
    if (c > bestCount) [best, bestCount] = [z, c];
  }
  const shape: [number, number, number] = [nz, ny, nx];
  const scale = displayScale(nx);
  const windowed = windowHounsfield(volumeValues(stripped), options.quirks ?? 'paper');
  const pre = preprocessVolume(stripped, options);
  const padBefore = Math.floor(Math.max(0, (options.padDepth ?? 40) - nz) / 2);
  const depthIn = Math.min(pre.shape[0] - 1, Math.floor(((best + padBefore) * pre.shape[0]) / Math.max(nz, options.padDepth ?? 40)));
  const preScale = displayScale(pre.shape[2]);
  return [
    htmlImage(sliceToPng(rawValues, shape, best, 0, 80, scale), `patient ${patient.id}: raw slice ${best + 1}/${nz}, 0-80 HU`),
    htmlImage(sliceToPng(windowed, shape, best, 0, 1, scale), `skull-stripped, paper window (15-100 HU, outside -> 0)`),
    htmlImage(sliceToPng(pre.data, pre.shape, depthIn, 0, 1, preScale), `network input ${pre.shape.join('x')}, slice ${depthIn + 1}`),
  ].join('');
}
