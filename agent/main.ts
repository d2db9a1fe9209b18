import { AgentConfig } from "../shared/config/agent-config.js";
import { loadConfig } from "../shared/config/load-config.js";
import { describeError } from "../shared/errors.js";
import { createLogger } from "../shared/logger.js";
import { startAgent } from "./nats-agent.js";
import { createNotifier } from "../shared/systemd-notify.js";
import { exitIfStillAlive } from "../shared/daemon-exit.js";

/**
 * The `ballast agent` daemon: loads the config (file < BALLAST_* environment), starts the agent
 * and runs until SIGTERM/SIGINT, then stops within a few seconds whatever NATS does. Running
 * migrations are not waited for: libvirt goes on with them, and they are written down in
 * $STATE_DIRECTORY (set by systemd's StateDirectory=) so that the next start reports their
 * outcome. Resolves with the exit code.
 */
export async function runAgent(configPath: string | undefined, env: NodeJS.ProcessEnv): Promise<number> {
  let config: AgentConfig;
  try {
    config = loadConfig(AgentConfig, { file: configPath, env });
  } catch (e) {
    process.stderr.write(`ballast agent: ${describeError(e)}\n`);
    return 2;
  }
  const logger = createLogger({ name: "ballast-agent", level: config.log_level, host: config.host });
  const notify = createNotifier(env);
  const stateDir = stateDirOf(config, env);
  if (stateDir === undefined)
    logger.warn(
      "no state_dir: migrations running when the agent stops will not be reported by its next start (the orchestrator settles them from inventories)",
    );
  let agent;
  try {
    agent = await startAgent({ config, logger, ...(stateDir !== undefined ? { stateDir } : {}) });
  } catch (e) {
    logger.fatal({ err: describeError(e) }, "agent could not start");
    return 1;
  }
  await notify.ready();
  const watchdog = notify.watchdogEveryMs !== undefined ? setInterval(() => void notify.watchdog(), notify.watchdogEveryMs) : undefined;

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  logger.info({ signal }, "stopping");
  if (watchdog) clearInterval(watchdog);
  let code = 0;
  exitIfStillAlive(logger, () => code);
  await notify.stopping();
  try {
    await agent.stop();
  } catch (e) {
    logger.error({ err: describeError(e) }, "unclean stop");
    code = 1;
  }
  return code;
}

/**
 * Where the migration journal goes: `state_dir`, else $STATE_DIRECTORY (systemd sets it from
 * StateDirectory=; it may list several, separated by ":", and the unit names one); none when
 * `state_dir` is null or neither is set.
 */
export function stateDirOf(config: Pick<AgentConfig, "state_dir">, env: NodeJS.ProcessEnv): string | undefined {
  if (config.state_dir === null) return undefined;
  return config.state_dir ?? (env.STATE_DIRECTORY?.split(":")[0] || undefined);
}
