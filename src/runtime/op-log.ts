// Operational log lines (startup, reloads, rejected configurations, drains, listener changes) as
// plain text or as one JSON object per line (`--log-format json`) for log collectors. Access logs
// are separate (proxy/access-log.ts, `--access-log-format`).

export type LogFormat = 'text' | 'json';
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogFields {
  readonly level?: LogLevel;
  readonly [key: string]: unknown;
}

/** Every operational logger in Umbra has this shape; `fields` is optional so plain `(line) => …` sinks fit. */
export type OpLog = (message: string, fields?: LogFields) => void;

/** The level of a message logged without one: Umbra's own wording says it. */
export function inferLevel(message: string): LogLevel {
  if (/\berror\b|\bfailed\b|cannot /i.test(message)) return 'error';
  if (/\bwarning\b|\brejected\b|\bnot every\b|\bexited\b/i.test(message)) return 'warn';
  return 'info';
}

/**
 * @param write where lines go (default: standard error)
 * @param base fields every JSON line carries (e.g. the worker's pid)
 */
export function opLogger(
  format: LogFormat,
  write: (line: string) => void = (l) => process.stderr.write(l),
  base: Record<string, unknown> = {},
): OpLog {
  if (format === 'text') {
    const prefix = typeof base.prefix === 'string' ? base.prefix : '';
    return (message) => write(`${prefix}${message}\n`);
  }
  const rest: Record<string, unknown> = { ...base };
  delete rest.prefix;
  return (message, fields) => {
    const level = fields?.level ?? inferLevel(message);
    write(
      `${JSON.stringify({ time: new Date().toISOString(), level, msg: message.trim(), ...rest, ...fields })}\n`,
    );
  };
}
