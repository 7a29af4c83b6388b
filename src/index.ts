/**
 * ich-prognosis: the library the notebooks and the `ich` command call. Import the built package (`../dist/src`)
 * from a notebook; everything here is tested under test/.
 */
export * from './config/paths';
export * from './config/profiles';
export * from './math/mt19937';
export * from './math/random';
export * from './math/ranks';
export * from './io/atomic';
export * from './io/csv';
export * from './io/nifti';
export * from './io/npy';
export * from './io/read-volume';
export * from './io/volume';
export * from './data/issues';
export * from './data/clinical';
export * from './data/cohort';
export * from './data/check';
export * from './data/describe';
export * from './data/preprocess';
export * from './data/augment';
export * from './data/labels';
export * from './data/splits';
export * from './data/cache';
export * from './data/synth/targets';
export * from './data/synth/clinical';
export * from './data/synth/cohort';
export * from './report/html';
export * from './report/png';
export * from './report/check';
export * from './report/export';
export * from './report/slices';
export * from './backend';
export * from './models/tasks';
export * from './models/checkpoint';
export * from './train/cv';
export * from './train/loop';
export * from './eval/metrics';
export * from './eval/stats';
export * from './eval/aggregate';
export * from './eval/association';
export * from './eval/cohort-stats';
export * from './data/tabular';
export * from './models/tabular';
export * from './train/tabular';
export * from './eval/reference';
