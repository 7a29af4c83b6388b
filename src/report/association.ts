import { Patient } from '../data/cohort';
import { CohortStatistics } from '../eval/cohort-stats';
import { rocCurve } from '../eval/metrics';
import { htmlTable } from './html';
import { rocFigure } from './figures';
import { FigureSpec } from './plotly';

const f = (v: number) => (Number.isNaN(v) ? 'n/a' : Math.abs(v) < 1e-3 && v !== 0 ? v.toExponential(2) : v.toFixed(3));

/** The tests of the GCS/age analysis and the logistic model as HTML tables. */
export function associationTablesHtml(s: CohortStatistics): string {
  const tests = htmlTable(
    ['test', 'statistic', 'p-value', 'detail'],
    [
      ['Mann-Whitney U, age', f(s.mannWhitney.Age.u), f(s.mannWhitney.Age.pValue), `median ${s.mannWhitney.Age.medianPoor} (poor) vs ${s.mannWhitney.Age.medianGood} (good) years`],
      ['Mann-Whitney U, GCS', f(s.mannWhitney.GCS.u), f(s.mannWhitney.GCS.pValue), `median ${s.mannWhitney.GCS.medianPoor} (poor) vs ${s.mannWhitney.GCS.medianGood} (good)`],
      ['chi-square, GCS <= 8', f(s.chiSquare['GCS<=8'].statistic), f(s.chiSquare['GCS<=8'].pValue), 'Yates-corrected 2x2'],
      ['chi-square, age >= 80', f(s.chiSquare['Age>=80'].statistic), f(s.chiSquare['Age>=80'].pValue), 'Yates-corrected 2x2'],
    ],
    `Tests between outcomes (${s.patients} patients)`,
  );
  const L = s.logistic;
  const model = htmlTable(
    ['term', 'coefficient', 'SE', 'odds ratio', '95% CI', 'p-value'],
    L.names.map((n, i) => [n, f(L.coef[i]), f(L.se[i]), f(L.oddsRatio[i]), `${f(L.oddsRatioCi95[i][0])} - ${f(L.oddsRatioCi95[i][1])}`, f(L.pValue[i])]),
    'Logistic regression: poor prognosis ~ GCS + age (odds ratio per GCS point and per year)',
  );
  return `${tests}<br/>${model}`;
}

/** ROC curves of age and GCS (lower GCS = worse) as single-variable predictors of poor prognosis. */
export function singleVariableRocFigure(patients: readonly Patient[]): FigureSpec {
  const y = patients.map((p) => p.label);
  const curves = [
    { name: 'age', scores: patients.map((p) => p.age) },
    { name: 'GCS (lower = worse)', scores: patients.map((p) => -p.gcs) },
  ].map((c) => {
    const r = rocCurve(y, c.scores);
    let auc = 0;
    for (let i = 1; i < r.fpr.length; i++) auc += ((r.fpr[i] - r.fpr[i - 1]) * (r.tpr[i] + r.tpr[i - 1])) / 2;
    return { name: c.name, fpr: r.fpr, tpr: r.tpr, auc };
  });
  return rocFigure(curves, 'Age and GCS as single predictors of poor prognosis', 'roc-age-gcs');
}
