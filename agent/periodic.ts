/**
 * Runs `task` every `everyMs` with real timers; a run never overlaps the previous one (a slow
 * virsh call delays the next cycle instead of piling up). Errors are the task's business.
 */
export function every(everyMs: number, task: () => Promise<void>): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const tick = () => {
    if (stopped) return;
    const started = Date.now();
    current = task()
      .catch(() => undefined)
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, Math.max(0, everyMs - (Date.now() - started)));
      });
  };
  timer = setTimeout(tick, 0);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await current;
    },
  };
}
