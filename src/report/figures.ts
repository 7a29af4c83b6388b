import { CohortStatistics } from '../eval/cohort-stats';
import { TABLE_METRICS, METRIC_LABELS, ModelSummary } from '../eval/aggregate';
import { PaperReference } from '../eval/reference';
import { FigureSpec, PALETTE, PAPER_GREY } from './plotly';

/** Spearman correlation matrix as a heatmap (diverging colours centred on 0). */
export function spearmanHeatmap(matrix: { names: string[]; r: number[][] }, id = 'spearman-heatmap'): FigureSpec {
  return {
    id,
    title: 'Spearman correlation of the clinical variables and the label',
    data: [{ type: 'heatmap', x: matrix.names, y: matrix.names, z: matrix.r, zmin: -1, zmax: 1, zmid: 0, colorscale: 'RdBu', reversescale: true, colorbar: { title: { text: 'rho' } } }],
    layout: { xaxis: { tickangle: -60, automargin: true, dtick: 1 }, yaxis: { autorange: 'reversed', automargin: true, dtick: 1 }, margin: { t: 60 } },
  };
}

/**
 * Spearman correlation of each variable with poor prognosis, strongest first, ours beside the paper-reported values
 * (grey, labelled) where the paper gives them.
 */
export function labelCorrelationBars(stats: CohortStatistics, paper: Record<string, number> = {}, top = 15, id = 'label-correlations'): FigureSpec {
  const rows = stats.spearman.filter((s) => !Number.isNaN(s.r)).slice(0, top);
  const names = rows.map((r) => r.variable);
  return {
    id,
    title: 'Spearman correlation with poor prognosis',
    data: [
      { type: 'bar', name: 'this cohort', x: names, y: rows.map((r) => r.r), marker: { color: PALETTE[0] } },
      { type: 'bar', name: 'paper-reported', x: names, y: names.map((n) => paper[n] ?? null), marker: { color: PAPER_GREY } },
    ],
    layout: { barmode: 'group', yaxis: { title: { text: 'Spearman rho' }, zeroline: true }, xaxis: { tickangle: -45, automargin: true }, legend: { orientation: 'h', y: 1.08 } },
  };
}

/** A variable's distribution in good and poor prognosis (box plots with every point). */
export function byOutcomeBoxes(name: string, groups: { good: number[]; poor: number[] }, unit = '', id = `by-outcome-${name.toLowerCase()}`): FigureSpec {
  const { good, poor } = groups;
  return {
    id,
    title: `${name} by outcome`,
    data: [
      { type: 'box', name: 'good prognosis', y: good, boxpoints: 'all', jitter: 0.4, pointpos: 0, marker: { color: PALETTE[2], size: 4 } },
      { type: 'box', name: 'poor prognosis', y: poor, boxpoints: 'all', jitter: 0.4, pointpos: 0, marker: { color: PALETTE[3], size: 4 } },
    ],
    layout: { yaxis: { title: { text: unit ? `${name} (${unit})` : name } }, showlegend: false },
  };
}

/** ROC curves with their AUC in the legend, and the chance diagonal. */
export function rocFigure(curves: { name: string; fpr: number[]; tpr: number[]; auc: number; paperReported?: boolean }[], title = 'ROC curves', id = 'roc'): FigureSpec {
  return {
    id,
    title,
    data: [
      ...curves.map((c, i) => ({
        type: 'scatter',
        mode: 'lines',
        name: `${c.name} (AUC ${c.auc.toFixed(3)})${c.paperReported ? ' - paper-reported' : ''}`,
        x: c.fpr,
        y: c.tpr,
        line: { color: c.paperReported ? PAPER_GREY : PALETTE[i % PALETTE.length], width: 2, shape: 'hv' },
      })),
      { type: 'scatter', mode: 'lines', name: 'chance', x: [0, 1], y: [0, 1], line: { color: '#bbbbbb', dash: 'dot', width: 1 }, showlegend: false },
    ],
    layout: { xaxis: { title: { text: '1 - specificity' }, range: [0, 1] }, yaxis: { title: { text: 'sensitivity' }, range: [0, 1.02], scaleanchor: 'x' }, legend: { x: 0.45, y: 0.05 } },
  };
}

/** Counts of a discrete variable (GCS scores, slices per scan) as bars, optionally beside the paper's counts. */
export function countBars(title: string, xTitle: string, counts: [number, number][], paperCounts?: [number, number][], id = title.toLowerCase().replace(/[^a-z0-9]+/g, '-')): FigureSpec {
  return {
    id,
    title,
    data: [
      { type: 'bar', name: 'this cohort', x: counts.map((c) => String(c[0])), y: counts.map((c) => c[1]), marker: { color: PALETTE[0] } },
      ...(paperCounts ? [{ type: 'bar', name: 'paper-reported', x: paperCounts.map((c) => String(c[0])), y: paperCounts.map((c) => c[1]), marker: { color: PAPER_GREY } }] : []),
    ],
    layout: { barmode: 'group', xaxis: { title: { text: xTitle }, type: 'category' }, yaxis: { title: { text: 'patients' } }, legend: { orientation: 'h', y: 1.08 } },
  };
}

/**
 * The paper's ablation figure: bars with error bars (mean +- sample std over folds) for each model and the eight
 * metrics; `which` picks our runs or the paper-reported values (never mixed in one figure).
 */
export function ablationFigure(models: readonly ModelSummary[] | PaperReference, which: 'ours' | 'paper', id = `ablation-${which}`): FigureSpec {
  const rows: { model: string; mean: Record<string, number>; std: Record<string, number> }[] =
    which === 'paper'
      ? Object.entries((models as PaperReference).crossValidation.models).map(([model, m]) => ({ model, mean: { ...m.mean, sensitivity: m.mean.recall }, std: { ...m.std, sensitivity: m.std.recall } }))
      : (models as ModelSummary[]).map((m) => ({
          model: m.model,
          mean: Object.fromEntries(TABLE_METRICS.map((k) => [k, m.summary[k].mean])),
          std: Object.fromEntries(TABLE_METRICS.map((k) => [k, m.summary[k].std])),
        }));
  return {
    id,
    title: which === 'paper' ? 'Ablation (paper-reported, 10-fold CV, mean +- std)' : 'Ablation (this run, mean +- std over folds)',
    data: rows.map((r, i) => ({
      type: 'bar',
      name: r.model,
      x: TABLE_METRICS.map((k) => METRIC_LABELS[k]),
      y: TABLE_METRICS.map((k) => r.mean[k] ?? null),
      error_y: { type: 'data', array: TABLE_METRICS.map((k) => r.std[k] ?? null), visible: true, thickness: 1 },
      marker: { color: PALETTE[i % PALETTE.length] },
    })),
    layout: { barmode: 'group', yaxis: { range: [0, 1], title: { text: 'score' } }, legend: { orientation: 'h', y: -0.15 } },
  };
}

/** Learning curves of a run: training and validation loss, and validation balanced accuracy, per fold and epoch. */
export function learningCurvesFigure(results: readonly { fold: number; history: { epoch: number; trainLoss: number; valLoss: number; valBalancedAccuracy: number }[]; selectedEpoch: number }[], title = 'Learning curves', id = 'learning-curves'): FigureSpec {
  const data: Record<string, unknown>[] = [];
  results.forEach((r, i) => {
    const color = PALETTE[i % PALETTE.length];
    const x = r.history.map((h) => h.epoch);
    data.push({ type: 'scatter', mode: 'lines+markers', name: `fold ${r.fold} train loss`, x, y: r.history.map((h) => h.trainLoss), line: { color }, legendgroup: `f${r.fold}` });
    data.push({ type: 'scatter', mode: 'lines+markers', name: `fold ${r.fold} val loss`, x, y: r.history.map((h) => h.valLoss), line: { color, dash: 'dash' }, legendgroup: `f${r.fold}` });
    data.push({ type: 'scatter', mode: 'lines+markers', name: `fold ${r.fold} val BAcc (selected epoch ${r.selectedEpoch})`, x, y: r.history.map((h) => h.valBalancedAccuracy), line: { color, dash: 'dot' }, yaxis: 'y2', legendgroup: `f${r.fold}` });
  });
  return {
    id,
    title,
    data,
    layout: { xaxis: { title: { text: 'epoch' }, dtick: 1 }, yaxis: { title: { text: 'loss' } }, yaxis2: { title: { text: 'validation balanced accuracy' }, overlaying: 'y', side: 'right', range: [0, 1] }, legend: { orientation: 'h', y: -0.2 } },
  };
}

/** A histogram record ({"3": 22, ...}) as sorted [value, count] pairs. */
function countPairs(record: Record<string, number>): [number, number][] {
  return Object.entries(record)
    .map(([k, v]) => [Number(k), v] as [number, number])
    .sort((a, b) => a[0] - b[0]);
}

/** The cohort's GCS and slices-per-scan histograms beside the paper-reported ones (dataset check summary). */
export function cohortCountFigures(summary: { gcsHistogram: Record<string, number>; sliceHistogram: Record<string, number> }, paper?: PaperReference): [FigureSpec, FigureSpec] {
  return [
    countBars('GCS at admission', 'GCS (3-15)', countPairs(summary.gcsHistogram), paper && countPairs(paper.cohort.gcsCounts), 'gcs-histogram'),
    countBars('Slices per scan', 'slices', countPairs(summary.sliceHistogram), paper && countPairs(paper.cohort.sliceCounts), 'slice-histogram'),
  ];
}

/** Scanner manufacturers by outcome (data/scanners.ts), beside the paper-reported mix when given. */
export function scannerMixFigure(mix: Record<string, { good: number; poor: number }>, paper?: Record<string, { good: number; poor: number }>, id = 'scanner-mix'): FigureSpec {
  const names = [...new Set([...Object.keys(mix), ...Object.keys(paper ?? {})])].sort();
  const bars = (source: Record<string, { good: number; poor: number }>, outcome: 'good' | 'poor') => names.map((n) => source[n]?.[outcome] ?? 0);
  return {
    id,
    title: 'Scanner manufacturers by outcome',
    data: [
      { type: 'bar', name: 'this cohort: good', x: names, y: bars(mix, 'good'), marker: { color: PALETTE[0] } },
      { type: 'bar', name: 'this cohort: poor', x: names, y: bars(mix, 'poor'), marker: { color: PALETTE[1] } },
      ...(paper
        ? [
            { type: 'bar', name: 'paper-reported: good', x: names, y: bars(paper, 'good'), marker: { color: PAPER_GREY, pattern: { shape: '' } } },
            { type: 'bar', name: 'paper-reported: poor', x: names, y: bars(paper, 'poor'), marker: { color: PAPER_GREY, pattern: { shape: '/' } } },
          ]
        : []),
    ],
    layout: { barmode: 'group', yaxis: { title: { text: 'patients' } }, legend: { orientation: 'h', y: -0.12 }, margin: { b: 90 } },
  };
}
