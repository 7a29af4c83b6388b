import * as Mocha from 'mocha';

/**
 * Mocha's spec reporter plus one closing line in the plain form CI tools read: "N passed, N failed, N skipped".
 */
class PlainSummaryReporter extends Mocha.reporters.Spec {
  constructor(runner: Mocha.Runner, options?: Mocha.MochaOptions) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const s = runner.stats;
      if (!s) return;
      process.stdout.write(`\n${s.passes} passed, ${s.failures} failed, ${s.pending} skipped\n`);
    });
  }
}

export = PlainSummaryReporter;
