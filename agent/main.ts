import { AgentConfig } from "../shared/config/agent-config.js";
import { loadConfig } from "../shared/config/load-config.js";
import { describeError } from "../shared/errors.js";
import { createLogger } from "../shared/logger.js";
import { startAgent } from "./nats-agent.js";
import { createNotifier } from "../shared/systemd-notify.js";

/**
 * The `ballast agent` daemon: loads the config (file < BALLAST_* environment), starts the agent
 * and runs until SIGTERM/SIGINT, then stops cleanly (NATS drained). Resolves with the exit code.
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
  let agent;
  try {
    agent = await startAgent({ config, logger });
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
  await notify.stopping();
  try {
    await agent.stop();
  } catch (e) {
    logger.error({ err: describeError(e) }, "unclean stop");
    return 1;
  }
  return 0;
}
