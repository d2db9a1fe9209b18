import { chmodSync, existsSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Lab } from "../support/lab.js";
import type { AgentProc, LabCluster } from "./lab-cluster.js";

// What a hypervisor's boot does with its agent (systemd starts it) and what a power loss does to
// it (it dies with the host), for the lab's BMCs (deploy/lab/bmc-chassis.sh runs the hooks
// state/agent-<hv>.stop and .start). The stop hook SIGKILLs the agent's process group; the start
// hook leaves a file that a watcher here turns into a new agent process of the lab cluster.

export interface AgentPowerHooks {
  /** Pass as startLabCluster's onAgentStart: notes each agent's PID for the stop hook. */
  onAgentStart(p: AgentProc): void;
  /** Starts the watcher that restarts an agent whose hypervisor booted. */
  attach(c: LabCluster): void;
  /** What the stop hook does, for a power loss made without the BMC (kill-hv): the agent dies. */
  killAgent(hv: string): void;
  stop(): void;
}

export function agentPowerHooks(lab: Lab, hvs: readonly string[] = ["hv-a", "hv-b", "hv-c"]): AgentPowerHooks {
  const pidFile = (hv: string) => join(lab.dir, `agent-${hv}.pid`);
  const wanted = (hv: string) => join(lab.dir, `agent-${hv}.wanted`);
  for (const hv of hvs) {
    const stop = join(lab.stateDir, `agent-${hv}.stop`);
    // bash, not sh: dash's kill takes no "--", and a negative pid (the agent's process group) needs it.
    writeFileSync(stop, `#!/bin/bash\n[ -s '${pidFile(hv)}' ] && kill -KILL -- "-$(cat '${pidFile(hv)}')"\nexit 0\n`);
    chmodSync(stop, 0o755);
    const start = join(lab.stateDir, `agent-${hv}.start`);
    writeFileSync(start, `#!/bin/sh\ntouch '${wanted(hv)}'\n`);
    chmodSync(start, 0o755);
  }
  const restarting = new Set<string>();
  const pids = new Map<string, number>();
  let watcher: NodeJS.Timeout | undefined;
  return {
    onAgentStart(p) {
      pids.set(p.host, p.pid);
      writeFileSync(pidFile(p.host), String(p.pid));
    },
    attach(c) {
      watcher = setInterval(() => {
        for (const hv of hvs) {
          if (!existsSync(wanted(hv)) || restarting.has(hv)) continue;
          unlinkSync(wanted(hv));
          restarting.add(hv);
          c.startAgent(hv)
            .catch((e) => console.warn(`agent ${hv} restart:`, e))
            .finally(() => restarting.delete(hv));
        }
      }, 200);
    },
    killAgent(hv) {
      const pid = pids.get(hv);
      if (pid === undefined) return;
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        /* gone already */
      }
    },
    stop() {
      if (watcher) clearInterval(watcher);
    },
  };
}
