// Tests start a real nats-server the same way the demo does.
export { startNatsServer, freePort, type NatsServerHandle } from "../../shared/nats/nats-server-process.js";
