import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { startNatsServer } from "../../../shared/nats/nats-server-process.js";

describe("startNatsServer", () => {
  it("stop() after the server was SIGKILLed resolves, signals nothing and removes its directory", async () => {
    const s = await startNatsServer();
    const pid = s.pid;
    const exited = new Promise<void>((resolve) => {
      const t = setInterval(() => {
        try {
          process.kill(pid, 0);
        } catch {
          clearInterval(t);
          resolve();
        }
      }, 20);
    });
    process.kill(pid, "SIGKILL");
    await exited;
    await s.stop();
    expect(existsSync(s.dir)).toBe(false);
  }, 30_000);
});
