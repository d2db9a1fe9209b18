// The last resort of a daemon's stop. A stop is bounded step by step; if the process is still
// alive this long after the signal anyway, a handle nobody closed keeps it running, and systemd
// would wait for TimeoutStopSec and SIGKILL it. It exits instead, logging what was still open so
// that the leak gets fixed.

/** After the stop began, a daemon still alive this long is ended. */
export const EXIT_AFTER_STOP_MS = 8000;

/**
 * Arms the last-resort exit, unref'd: it fires only if something else keeps the process alive.
 * `code` is read when it fires (the stop's own result, or 1).
 */
export function exitIfStillAlive(logger: { error(o: object, msg: string): void }, code: () => number, afterMs = EXIT_AFTER_STOP_MS): void {
  const t0 = Date.now();
  setTimeout(() => {
    logger.error(
      { afterMs: Date.now() - t0, stillOpen: process.getActiveResourcesInfo().filter((r) => r !== "TTYWrap") },
      "still running after the stop; exiting",
    );
    process.exit(code() || 1);
  }, afterMs).unref();
}
