import { execFile } from "node:child_process";

// systemd Type=notify support without a native module: `systemd-notify` sends the datagram.
// Only when systemd asked for it (NOTIFY_SOCKET set); otherwise every call is a no-op.
// node:child_process, not execa: this module is loaded by the agent, whose memory budget the
// 12 MiB execa costs at load would take a sixth of.

export interface Notifier {
  ready(): Promise<void>;
  watchdog(): Promise<void>;
  stopping(): Promise<void>;
  /** Watchdog ping interval systemd expects (half of WATCHDOG_USEC), ms; undefined = none. */
  readonly watchdogEveryMs: number | undefined;
}

export function createNotifier(env: NodeJS.ProcessEnv): Notifier {
  const enabled = typeof env.NOTIFY_SOCKET === "string" && env.NOTIFY_SOCKET.length > 0;
  const send = async (...args: string[]) => {
    if (!enabled) return;
    // --pid lets systemd attribute the message to the main process rather than the helper.
    // A failed notification is systemd's to notice (it times the service out), never ours to throw.
    await new Promise<void>((resolve) => {
      const child = execFile("systemd-notify", [`--pid=${process.pid}`, ...args], { timeout: 5000, killSignal: "SIGKILL" }, () => resolve());
      child.stdin?.end();
    });
  };
  const usec = Number(env.WATCHDOG_USEC);
  return {
    ready: () => send("--ready"),
    // READY=1 again with every ping: systemd-notify exits before systemd reads the datagram
    // and systemd may then drop it for lack of a peer; a repeated READY does no harm.
    watchdog: () => send("WATCHDOG=1", "READY=1"),
    stopping: () => send("STOPPING=1"),
    watchdogEveryMs: enabled && Number.isFinite(usec) && usec > 0 ? Math.max(1000, usec / 2000) : undefined,
  };
}
