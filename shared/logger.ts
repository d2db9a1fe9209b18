import { pino, type DestinationStream, type Logger } from "pino";

export type { Logger };

/**
 * JSON lines on stderr (the journal takes them as is); one logger per daemon, passed in. `host`
 * goes into every line once (the agent adds no second one); `destination` replaces stderr (tests
 * read the lines).
 */
export function createLogger(opts: { name: string; level?: string; host?: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      name: opts.name,
      level: opts.level ?? process.env.BALLAST_LOG_LEVEL ?? "info",
      base: opts.host ? { host: opts.host } : {},
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination ?? pino.destination(2),
  );
}

/** A logger that drops everything (tests, library use). */
export const silentLogger = (): Logger => pino({ level: "silent" });
