import { Patient } from './cohort';
import { readNiftiDescription } from '../io/nifti';

const MAKERS = ['GE', 'Philips', 'Siemens', 'Toshiba', 'Canon'];

/** The scanner manufacturer named in a scan's description (NIfTI `descrip`), or 'unknown'. */
export function scannerOf(description: string | undefined): string {
  const text = description ?? '';
  return MAKERS.find((m) => new RegExp(`\\b${m}\\b`, 'i').test(text)) ?? 'unknown';
}

/**
 * Scanner mix by outcome (the paper reports GE and Philips): counts of manufacturers read from each scan's header.
 * An unreadable scan counts as 'unreadable' rather than stopping the tally; .npy scans carry no header text ('unknown').
 */
export function scannerMix(patients: readonly Patient[]): Record<string, { good: number; poor: number }> {
  const mix: Record<string, { good: number; poor: number }> = {};
  for (const p of patients) {
    let name: string;
    try {
      // The header alone: reading every scan's voxels for 80 bytes of text took seconds per hundred scans.
      name = /\.nii(\.gz)?$/i.test(p.imagePath) ? scannerOf(readNiftiDescription(p.imagePath)) : 'unknown';
    } catch {
      name = 'unreadable';
    }
    mix[name] ??= { good: 0, poor: 0 };
    mix[name][p.label === 1 ? 'poor' : 'good']++;
  }
  return mix;
}
