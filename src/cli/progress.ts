/** A one-line terminal progress bar on stderr (redrawn in place on a TTY, a line every 10 % otherwise). */
export class ProgressBar {
  private readonly started = Date.now();
  private lastDecile = -1;

  constructor(private readonly label: string, private readonly stream: NodeJS.WriteStream = process.stderr) {}

  /** Draws `done` of `total`, with the elapsed time and an ETA. */
  update(done: number, total: number, note = ''): void {
    const elapsed = (Date.now() - this.started) / 1000;
    const eta = done > 0 ? (elapsed / done) * (total - done) : NaN;
    const width = 28;
    const filled = total > 0 ? Math.round((done / total) * width) : 0;
    const line = `${this.label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${done}/${total} ${elapsed.toFixed(0)}s elapsed${Number.isFinite(eta) ? `, ETA ${eta.toFixed(0)}s` : ''}${note ? ` ${note}` : ''}`;
    if (this.stream.isTTY) {
      this.stream.write(`\r${line}\u001b[K`);
      if (done >= total) this.stream.write('\n');
    } else {
      const decile = total > 0 ? Math.floor((done / total) * 10) : 10;
      if (decile !== this.lastDecile) {
        this.lastDecile = decile;
        this.stream.write(line + '\n');
      }
    }
  }
}
