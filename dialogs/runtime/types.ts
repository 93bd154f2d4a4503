/** Small runtime-wide types (logger and metrics hooks), kept free of any implementation. */

/** The subset of pino's API the runtime uses. */
export interface RuntimeLogger {
  debug(obj: Record<string, unknown>, msg?: string): void;
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
  error(obj: Record<string, unknown>, msg?: string): void;
}

/** Metric hooks the composition root implements with prom-client. */
export interface RuntimeMetrics {
  turn(channel: string, seconds: number, outcome: string): void;
  message(direction: 'in' | 'out', channel: string): void;
  /** A voice-note transcription attempt. */
  transcription?(outcome: 'ok' | 'failed'): void;
}

/** A clock; tests pass a fake. */
export interface Clock {
  now(): Date;
}
