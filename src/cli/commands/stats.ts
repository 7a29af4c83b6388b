import { dataDir } from '../../config/paths';
import { discoverCohort } from '../../data/cohort';
import { cohortStatistics } from '../../eval/cohort-stats';
import { parseArgs, UsageError } from '../args';

/** `ich stats [DIR] [--json]`: association statistics of the cohort (correlations with the label, tests, logistic model). */
export async function statsCommand(argv: string[]): Promise<number> {
  const args = parseArgs(argv, { json: 'boolean' }, 'ich stats');
  if (args.positional.length > 1) throw new UsageError(`ich stats: expected at most one directory, got ${args.positional.length}`);
  const cohort = discoverCohort(args.positional[0] ?? dataDir());
  if (cohort.patients.length < 4) throw new UsageError(`ich stats: usable patients expected (at least 4), got ${cohort.patients.length} (run ich data check)`);
  const s = cohortStatistics(cohort.patients);
  if (args.flags.json) {
    process.stdout.write(JSON.stringify(s) + '\n');
    return 0;
  }
  const f = (v: number) => (Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(2) : v.toFixed(3));
  const lines = [
    `patients: ${s.patients}`,
    'Spearman correlation with poor prognosis (strongest first):',
    ...s.spearman.slice(0, 10).map((c) => `  ${c.variable.padEnd(24)} r ${f(c.r)}  p ${f(c.pValue)}`),
    `Mann-Whitney U: age p ${f(s.mannWhitney.Age.pValue)} (median ${s.mannWhitney.Age.medianPoor} poor vs ${s.mannWhitney.Age.medianGood} good); GCS p ${f(s.mannWhitney.GCS.pValue)} (median ${s.mannWhitney.GCS.medianPoor} vs ${s.mannWhitney.GCS.medianGood})`,
    `chi-square: GCS<=8 p ${f(s.chiSquare['GCS<=8'].pValue)}; age>=80 p ${f(s.chiSquare['Age>=80'].pValue)}`,
    'logistic regression (poor prognosis ~ GCS + age):',
    ...s.logistic.names.map((n, i) => `  ${n.padEnd(6)} coef ${f(s.logistic.coef[i])}  OR ${f(s.logistic.oddsRatio[i])} [${f(s.logistic.oddsRatioCi95[i][0])}, ${f(s.logistic.oddsRatioCi95[i][1])}]  p ${f(s.logistic.pValue[i])}`),
    `single-variable AUC: age ${f(s.auc.Age)}, GCS ${f(s.auc.GCS)}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  return 0;
}
