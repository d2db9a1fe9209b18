import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { systemClock } from "../../../agent/ports/clock.js";
import { VirshHypervisor } from "../../../agent/virsh/virsh-hypervisor.js";
import { createVirshRunner } from "../../../agent/virsh/virsh-runner.js";
import { stripSecrets } from "../../../agent/virsh/strip-secrets.js";
import { MigrationSettings } from "../../../shared/config/agent-config.js";
import { BallastError } from "../../../shared/errors.js";
import { silentLogger } from "../../../shared/logger.js";

// The virsh driver's definitionXml against real libvirt: virsh with libvirt's own test driver,
// loaded with a domain that has graphics passwords, an HTTPS disk's cookie and an RBD disk's
// <auth>. What libvirt leaves out by itself (no --security-info) and what stripSecrets cuts from
// the XML when it does come with them must end the same.

const NODE = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "test-driver-node.xml");
const runner = createVirshRunner({ binary: "virsh", uri: `test://${NODE}`, timeoutMs: 10_000 });
const hv = new VirshHypervisor({ runner, migration: MigrationSettings.parse({}), clock: systemClock, logger: silentLogger() });
const SECRETS = ["vnc-password", "spice-password", "s3cr3t-cookie-value"];

afterAll(() => runner.close());

describe("VirshHypervisor.definitionXml (real virsh, libvirt's test driver)", () => {
  it("asks libvirt for the migratable XML without --security-info: libvirt itself leaves the secrets out", async () => {
    const xml = await hv.definitionXml("sec1");
    expect(xml).toContain("<name>sec1</name>");
    for (const s of SECRETS) expect(xml).not.toContain(s);
    // The reference to libvirt's secret is there: it is not the secret.
    expect(xml).toContain("<secret type='ceph' uuid='2ec115d7-3a88-3ceb-bc12-0ac909a6fd87'/>");
    // Nothing left for the second guard to cut.
    expect(stripSecrets(xml)).toEqual({ xml, removed: [] });
  });

  it("the same domain with --security-info carries them; stripSecrets brings it to what libvirt writes without", async () => {
    const secure = (await runner.run(["dumpxml", "--migratable", "--security-info", "--domain", "sec1"])).stdout;
    for (const s of SECRETS) expect(secure).toContain(s);
    const { xml, removed } = stripSecrets(secure);
    for (const s of SECRETS) expect(xml).not.toContain(s);
    expect(removed).toEqual(["devices disk source cookies", "graphics[vnc] passwd", "graphics[spice] passwd"]);
    expect(xml).toBe(await hv.definitionXml("sec1"));
  });

  it("an unknown VM is UNKNOWN_VM", async () => {
    const e = await hv.definitionXml("nope").catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BallastError);
    expect(e).toMatchObject({ code: "UNKNOWN_VM", message: expect.stringMatching(/nope is not defined/) });
  });
});
