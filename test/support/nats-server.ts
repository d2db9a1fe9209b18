// Tests start a real nats-server the same way the demo does.
export { startNatsServer, freePort, waitForPort, type NatsServerHandle } from "../../shared/nats/nats-server-process.js";
