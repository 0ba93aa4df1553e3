/**
 * Progress for people: on a terminal a bar (cli-progress) with percentage, recent rate and ETA; elsewhere one line
 * per stage change (and per quarter of the work, so a CI log shows movement); nothing with -q, or when not on a
 * terminal inside Kubernetes, where stderr is the log stream and belongs to the JSON logs.
 * TRIBUTARY_PROGRESS=bar|lines|off overrides the choice.
 */
import cliProgress from 'cli-progress';
import { RecentRate } from './rate.js';

export type ProgressMode = 'bar' | 'lines' | 'off';

export interface ModeInputs {
  quiet?: boolean;
  isTTY: boolean;
  env: Readonly<Record<string, string | undefined>>;
}

export function progressMode({ quiet, isTTY, env }: ModeInputs): ProgressMode {
  if (quiet) return 'off';
  const forced = env.TRIBUTARY_PROGRESS;
  if (forced === 'bar' || forced === 'lines' || forced === 'off') return forced;
  if (isTTY) return 'bar';
  return env.KUBERNETES_SERVICE_HOST ? 'off' : 'lines';
}

export function defaultProgressMode(quiet?: boolean): ProgressMode {
  return progressMode({ quiet: quiet ?? false, isTTY: Boolean(process.stderr.isTTY), env: process.env });
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds - minutes * 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export interface TaskState {
  done: number;
  /** unknown (an unbounded source, or no partition has told its end yet) */
  total?: number | undefined;
}

/** "412,000 / 1,100,000 events (37%), 61,000 events/s, ETA 11 s" — the same text in a line and in the bar. */
export function describeProgress(label: string, unit: string, state: TaskState, perSecond: number): string {
  const rate = `${fmt(perSecond)} ${unit}/s`;
  if (state.total === undefined || state.total <= 0) return `${label}: ${fmt(state.done)} ${unit}, ${rate}`;
  const share = Math.min(100, (100 * state.done) / state.total);
  const left = Math.max(0, state.total - state.done);
  const eta = left === 0 ? '0 s' : perSecond > 0 ? formatDuration(left / perSecond) : '?';
  return `${label}: ${fmt(state.done)} / ${fmt(state.total)} ${unit} (${share.toFixed(0)}%), ${rate}, ETA ${eta}`;
}

export interface ProgressOptions {
  mode: ProgressMode;
  write?: (text: string) => void;
  now?: () => number;
  /** the bar's stream (a TTY) */
  stream?: NodeJS.WriteStream;
}

/** One task at a time (generation, processing), with stage lines and notes (resumes, stalls) around it. */
export class Progress {
  readonly mode: ProgressMode;
  private readonly write: (text: string) => void;
  private readonly now: () => number;
  private readonly stream: NodeJS.WriteStream;
  private bar: cliProgress.SingleBar | undefined;
  private task: { label: string; unit: string; rate: RecentRate; quarter: number; state: TaskState; note: string; noteTopic: string; startedAt: number } | undefined;

  constructor(options: ProgressOptions) {
    this.mode = options.mode;
    this.write = options.write ?? ((text) => process.stderr.write(text));
    this.now = options.now ?? Date.now;
    this.stream = options.stream ?? process.stderr;
  }

  /** A stage change: always a line of its own (above the bar on a terminal). */
  stage(text: string): void {
    if (this.mode === 'off') return;
    if (this.bar) {
      // cli-progress has no "print above": clear the bar's line, write, and let the next render redraw it
      this.stream.write(`\r\x1b[2K${text}\n`);
      this.bar.render();
    } else this.write(`${text}\n`);
  }

  start(label: string, unit: string, state: TaskState = { done: 0 }): void {
    this.end();
    const rate = new RecentRate();
    rate.add(this.now(), state.done);
    this.task = { label, unit, rate, quarter: 0, state: { ...state }, note: '', noteTopic: '', startedAt: this.now() };
    if (this.mode === 'bar') {
      const task = this.task;
      this.bar = new cliProgress.SingleBar({
        stream: this.stream,
        hideCursor: true,
        clearOnComplete: false,
        format: (options, params) =>
          // without a total a bar would only pretend; the count and rate say what is known
          `${task.state.total !== undefined ? `${cliProgress.Format.BarFormat(params.progress, options)} ` : ''}${describeProgress(task.label, task.unit, task.state, task.rate.perSecond())}${task.note ? ` | ${task.note}` : ''}`,
      });
      this.bar.start(Math.max(1, state.total ?? 1), state.done);
    } else if (this.mode === 'lines' && state.total !== undefined) {
      this.write(`${label}: started (${fmt(state.total)} ${unit})\n`);
    }
  }

  update(state: TaskState): void {
    const task = this.task;
    if (!task) return;
    task.state = { ...state };
    task.rate.add(this.now(), state.done);
    if (this.bar) {
      this.bar.setTotal(Math.max(1, state.total ?? state.done));
      this.bar.update(state.done);
    } else if (this.mode === 'lines' && state.total !== undefined && state.total > 0) {
      const quarter = Math.floor((4 * state.done) / state.total);
      if (quarter > task.quarter && quarter < 4) {
        task.quarter = quarter;
        this.write(`${describeProgress(task.label, task.unit, task.state, task.rate.perSecond())}\n`);
      }
    }
  }

  /**
   * A note on the running task (what a stall waits on), kept up to date in the bar; as a line only when `topic`
   * changes, so a stall is one line, not one a second. Empty clears it.
   */
  note(text: string, topic: string = text): void {
    const task = this.task;
    if (!task || task.note === text) return;
    task.note = text;
    if (this.bar) this.bar.render();
    else if (this.mode === 'lines' && text !== '' && topic !== task.noteTopic) this.write(`${task.label}: ${text}\n`);
    task.noteTopic = text === '' ? '' : topic;
  }

  /** Ends the task: the bar stays as it was last drawn; in lines mode a last line says how much and how long. */
  end(): void {
    const task = this.task;
    if (!task) return;
    this.task = undefined;
    if (this.bar) {
      this.bar.stop();
      this.bar = undefined;
    } else if (this.mode === 'lines') {
      this.write(`${task.label}: done, ${fmt(task.state.done)} ${task.unit} in ${formatDuration((this.now() - task.startedAt) / 1000)}\n`);
    }
  }
}

/** The generator's per-stream callbacks as one task over all streams. */
export function generationProgress(progress: Progress, label: string, streams: readonly string[], eventsPerStream: number): (p: { stream: string; generated: number }) => void {
  const generated = new Map<string, number>();
  progress.start(label, 'events', { done: 0, total: streams.length * eventsPerStream });
  return (p) => {
    generated.set(p.stream, p.generated);
    let done = 0;
    for (const n of generated.values()) done += n;
    progress.update({ done, total: streams.length * eventsPerStream });
  };
}
