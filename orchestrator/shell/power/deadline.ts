// One power call has one deadline (the driver's `timeout`) and may also be cancelled by its
// caller. Both end in the same AbortSignal, so every kind of I/O (a child process, an HTTPS
// request, an SSH connection) stops the same way; timedOut() tells the two causes apart.

export interface Deadline {
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  /** The driver's own timeout fired (not the caller's signal). */
  timedOut(): boolean;
  /** Clears the timer; call when the operation is over. */
  dispose(): void;
}

export function startDeadline(timeoutSeconds: number, caller?: AbortSignal): Deadline {
  const timeoutMs = Math.round(timeoutSeconds * 1000);
  const ctl = new AbortController();
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    ctl.abort(new Error(`no answer within ${timeoutSeconds} s`));
  }, timeoutMs);
  const onCallerAbort = () => ctl.abort(caller?.reason ?? new Error("cancelled"));
  if (caller?.aborted) onCallerAbort();
  else caller?.addEventListener("abort", onCallerAbort, { once: true });
  return {
    signal: ctl.signal,
    timeoutMs,
    timedOut: () => expired,
    dispose() {
      clearTimeout(timer);
      caller?.removeEventListener("abort", onCallerAbort);
    },
  };
}

/** Why a deadline ended, in words for an error message. */
export function abortWords(d: Deadline, timeoutSeconds: number): string {
  return d.timedOut() ? `no answer within the timeout of ${timeoutSeconds} s` : "cancelled by the caller";
}
