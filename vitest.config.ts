import { defineConfig } from "vitest/config";

// Integration tests start real nats-server / libvirtd processes; the machine has two cores,
// so files run with limited parallelism and generous hook time-outs.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    maxWorkers: 2,
    testTimeout: 30_000,
    hookTimeout: 120_000,
    reporters: ["default"],
  },
});
