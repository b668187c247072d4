import { SingleBar } from 'cli-progress';
import type { EvaluationProgress } from './run-evaluation.js';

const stageLabels: Record<EvaluationProgress['stage'], string> = { ingest: 'ingesting', search: 'searching' };

/**
 * A terminal progress bar on standard error (standard output stays for the results), one line per
 * stage. Draws nothing when standard error is not a terminal.
 */
export class ProgressBar {
  readonly #bar = new SingleBar({
    format: '{stage} |{bar}| {value}/{total} {unit} | {duration_formatted} elapsed, eta {eta_formatted}',
    barsize: 30,
    hideCursor: true,
    etaBuffer: 200,
    stream: process.stderr,
  });
  #stage: EvaluationProgress['stage'] | null = null;

  update(progress: EvaluationProgress): void {
    const payload = { stage: stageLabels[progress.stage].padEnd(9), unit: progress.stage === 'ingest' ? 'documents' : 'queries' };
    if (this.#stage !== progress.stage) {
      if (this.#stage !== null) this.#bar.stop();
      this.#stage = progress.stage;
      this.#bar.start(progress.total, progress.done, payload);
      return;
    }
    this.#bar.update(progress.done, payload);
  }

  stop(): void {
    if (this.#stage !== null) this.#bar.stop();
    this.#stage = null;
  }
}
