import { UsageError } from './args';
import { benchCommand } from './commands/bench';
import { dataCheckCommand, dataSynthCommand } from './commands/data';
import { explainCommand } from './commands/explain';
import { exportCommand } from './commands/export';
import { exportWeightsCommand } from './commands/export-weights';
import { importDicomCommand } from './commands/import-dicom';
import { importWeightsCommand } from './commands/import-weights';
import { skullStripCommand } from './commands/skull-strip';
import { metricsCommand } from './commands/metrics';
import { predictCommand } from './commands/predict';
import { preprocessCommand } from './commands/preprocess';
import { splitsCommand } from './commands/splits';
import { statsCommand } from './commands/stats';
import { summaryCommand } from './commands/summary';
import { trainCommand } from './commands/train';
import { trainTabularCommand } from './commands/train-tabular';
import { volumeInfoCommand } from './commands/volume';

const USAGE = `ich: the ich-prognosis command line

  ich data synth --out DIR [--seed N] [--in-plane 512] [--patients 262]
  ich data check [DIR] [--json]
  ich volume info FILE|DICOM_FOLDER [--json] [--series auto|NUMBER|TEXT] [--keep-tilt]
  ich import-dicom --from DIR --clinical FILE.csv --out ROOT [--series auto|NUMBER|TEXT] [--id-from folder|tag] [--keep-tilt] [--skull-strip] [--json]   DICOM CT studies (a folder per patient) as a dataset
  ich skull-strip [DIR] [--out DIR] [--force] [--compare] [--ids 1,2] [--bone-hu 200] [--brain-hu -20,120] [--opening-mm 5] [--workers N] [--json]   brain-only copies of the raw scans (ICH_nii_StrippedSkull), or --compare with existing ones
  ich splits --labels FILE.json [--folds 10] [--seed 1] [--val-fraction 0.1] [--val-seed 1] [--oversample-seed 2] [--json]
  ich preprocess FILE --out OUT.npy [--size 40,301,301] [--quirks paper|fixed]
  ich train --profile quick|cpu|paper --model NAME [--folds 0,3] [--out DIR] [--seed 1]
  ich metrics --predictions FILE.csv [--threshold 0.5] [--json]   columns label, score
  ich train-tabular --model mlp|logistic|forest|clinical [--folds 0,3] [--out DIR]
  ich summary [NAME=]RUN_DIR ... [--reference NAME] [--resamples 2000] [--seed 1] [--json]   fold-mean table and pooled comparison
  ich stats [DIR] [--json]   association statistics of the cohort (GCS/age analysis)
  ich bench train [--shape 32,64,64] [--batch 2] [--json]   DenseNet-121 training throughput vs PyTorch
  ich bench profile [--shape 32,32,32] [--batch 1]          kernel launches and times of one training step
  ich bench conv [--shape 32,64,64] [--batch 2] [--json]    DenseNet-121's convolutions, each vs PyTorch
  ich bench tune [--shape 32,64,64] [--batch 2] [--passes N] [--out F]   webgpu: the fastest conv tiling per pass, for ICH_WGSL_CONV_TUNING
  ich import-weights --from FILE.pt|.safetensors|FOLDER --out DIR [--model NAME] [--input-size 40,301,301]   a PyTorch state dict (the authors' released weights) as a checkpoint
  ich export-weights --model CHECKPOINT --out FILE.pt|.safetensors [--layout authors|monai|ich]   a checkpoint as a PyTorch state dict (torch.save or safetensors)
  ich predict --model CHECKPOINT [--data DIR] [--out FILE.csv] [--batch 2] [--json]   every head's probabilities and metrics on a cohort (external validation)
  ich explain --model CHECKPOINT --patient ID --method gbp|gradcam|ggcam [--head prognosis] [--display] --out FILE.nii.gz
  ich export [--notebooks NAME,...] [--out figures/notebooks] [--cell-timeout S]   execute the notebooks, write their HTML

DIR defaults to $ICH_DATA_DIR, else data/synthetic.`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, Command> = {
  'data synth': dataSynthCommand,
  'data check': dataCheckCommand,
  'volume info': volumeInfoCommand,
  'import-dicom': importDicomCommand,
  'skull-strip': skullStripCommand,
  splits: splitsCommand,
  preprocess: preprocessCommand,
  export: exportCommand,
  explain: explainCommand,
  'import-weights': importWeightsCommand,
  'export-weights': exportWeightsCommand,
  predict: predictCommand,
  train: trainCommand,
  bench: benchCommand,
  metrics: metricsCommand,
  stats: statsCommand,
  'train-tabular': trainTabularCommand,
  summary: summaryCommand,
};

/** Runs `ich` with its arguments; returns the exit status. Bad input prints one line on stderr, never a stack. */
export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    process.stdout.write(USAGE + '\n');
    return argv.length === 0 ? 1 : 0;
  }
  const two = `${argv[0]} ${argv[1] ?? ''}`;
  const [name, rest] = COMMANDS[two] ? [two, argv.slice(2)] : [argv[0], argv.slice(1)];
  const command = COMMANDS[name];
  if (!command) {
    process.stderr.write(`ich: command expected one of ${Object.keys(COMMANDS).join(', ')}, got "${argv.slice(0, 2).join(' ')}" (see ich --help)\n`);
    return 1;
  }
  try {
    return await command(rest);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const line = message.split('\n')[0];
    // Usage errors already name their command; say it once.
    process.stderr.write(line.startsWith(`ich ${name}:`) ? `${line}\n` : `ich ${name}: ${line}\n`);
    if (process.env.ICH_DEBUG && err instanceof Error && !(err instanceof UsageError)) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`ich: ${(err as Error).message}\n`);
      process.exit(1);
    },
  );
}
