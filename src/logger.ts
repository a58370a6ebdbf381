/** Where jobwire writes its log lines. `console` fits. */
export interface Logger {
  info(message: string, ...details: unknown[]): void;
  warn(message: string, ...details: unknown[]): void;
  error(message: string, ...details: unknown[]): void;
}

const noop = (): void => {};

/** A logger that writes nothing. */
export const silentLogger: Logger = { info: noop, warn: noop, error: noop };

/** A logger whose lines all start with `prefix`. */
export function prefixed(logger: Logger, prefix: string): Logger {
  return {
    info: (message, ...details) => logger.info(`${prefix} ${message}`, ...details),
    warn: (message, ...details) => logger.warn(`${prefix} ${message}`, ...details),
    error: (message, ...details) => logger.error(`${prefix} ${message}`, ...details),
  };
}
