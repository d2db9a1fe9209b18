import { pino, type Logger } from "pino";

export type { Logger };

/** JSON lines on stderr (the journal takes them as is); one logger per daemon, passed in. */
export function createLogger(opts: { name: string; level?: string; host?: string }): Logger {
  return pino(
    {
      name: opts.name,
      level: opts.level ?? process.env.BALLAST_LOG_LEVEL ?? "info",
      base: opts.host ? { host: opts.host } : {},
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination(2),
  );
}

/** A logger that drops everything (tests, library use). */
export const silentLogger = (): Logger => pino({ level: "silent" });
