import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseHostMapping, HostMappingFile, HostMappingError } from "../../../orchestrator/shell/host-mapping.js";
import { silentLogger } from "../../../shared/logger.js";

describe("parseHostMapping", () => {
  it("reads host,address lines with comments, blanks and an optional header", () => {
    const m = parseHostMapping("host,address\n# lab\nhv-a, 10.77.0.1\n\nhv-b,10.77.0.2 # second\nhv_c,mig-c.example.org\nhv-d,fd00::4\n");
    expect([...m.entries()]).toEqual([
      ["hv-a", "10.77.0.1"],
      ["hv-b", "10.77.0.2"],
      ["hv_c", "mig-c.example.org"],
      ["hv-d", "fd00::4"],
    ]);
  });

  it.each([
    ["hv-a\n", 1, /expected "host,address"/],
    ["hv-a,10.0.0.1\nhv-b,10.0.0.2,extra\n", 2, /2: expected/],
    ["hv-a,10.0.0.1\n\nhv.a,10.0.0.3\n", 3, /line 3: bad host/],
    ["hv-a,10.0.0.1;rm -rf /\n", 1, /bad address/],
    ["hv-a,10.0.0.1\nhv-a,10.0.0.2\n", 2, /listed twice/],
    ["hv-a,qemu+tcp://x/system\n", 1, /bad address/],
    // Looked like addresses, were taken as a host name and as IPv6 (issue 14).
    ["hv-a,10.10.0.999\n", 1, /bad address "10\.10\.0\.999" for hv-a: address "10\.10\.0\.999" is not an IPv4 address/],
    ["hv-a,:::::\n", 1, /bad address ":::::" for hv-a: address ":::::" is not an IPv6 address/],
    // A header is a header only as the first record; elsewhere it was a host named "host".
    ["hv-a,10.0.0.1\n# more\nhost,address\n", 3, /line 3: a "host,address" header is only allowed as the first record/],
  ])("rejects %j naming line %i", (text, line, msg) => {
    try {
      parseHostMapping(text);
      expect.fail("should have thrown");
    } catch (e) {
      expect(e).toBeInstanceOf(HostMappingError);
      expect((e as HostMappingError).line).toBe(line);
      expect((e as Error).message).toMatch(msg);
    }
  });
});

describe("parseHostMapping warnings", () => {
  it("warns when two hosts share an address, and keeps both", () => {
    const warnings: string[] = [];
    const m = parseHostMapping(
      "# header after a comment is still the first record\nhost,address\nhv-a,10.0.0.1\nhv-b,10.0.0.2\nhv-c,10.0.0.1\n",
      "map.csv",
      warnings,
    );
    expect([...m.keys()]).toEqual(["hv-a", "hv-b", "hv-c"]);
    expect(warnings).toEqual(["map.csv line 5: hv-c has the address 10.0.0.1 of hv-a (line 3); migrations to either go to the same machine"]);
    const none: string[] = [];
    parseHostMapping("hv-a,10.0.0.1\nhv-b,10.0.0.2\n", "map.csv", none);
    expect(none).toEqual([]);
  });
});

describe("HostMappingFile", () => {
  it("reloads on change and keeps the last good mapping when the file turns bad", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ballast-map-"));
    const path = join(dir, "host_mapping.csv");
    try {
      writeFileSync(path, "hv-a,10.77.0.1\n");
      // The orchestrator's clock stamps the times status shows (a fake one here: not Date.now()).
      let now = 1_000_000;
      const f = new HostMappingFile(path, silentLogger(), 50, { now: () => (now += 1000) });
      await f.load();
      expect(f.mapping.get("hv-a")).toBe("10.77.0.1");
      expect(f.state().loadedAt).toBe(1_001_000);
      f.watch();
      writeFileSync(path, "hv-a,10.77.0.1\nhv-b,10.77.0.2\n");
      await waitFor(() => f.mapping.get("hv-b") === "10.77.0.2");
      writeFileSync(path, "hv-a,10.77.0.1\nbroken line here\n");
      await waitFor(() => f.error !== undefined);
      expect(f.error).toMatch(/line 2/);
      expect(f.mapping.get("hv-b")).toBe("10.77.0.2");
      // What status shows: the mapping in force, and why the newest file was rejected.
      const st = f.state();
      expect(st).toMatchObject({ path, hosts: 2, error: expect.stringMatching(/line 2/) as unknown });
      expect(st.errorAt).toBeGreaterThanOrEqual(st.loadedAt!);
      writeFileSync(path, "hv-a,10.77.0.1\nhv-b,10.77.0.2\nhv-c,10.77.0.2\n");
      await waitFor(() => f.mapping.get("hv-c") === "10.77.0.2");
      expect(f.state()).toMatchObject({
        hosts: 3,
        error: null,
        errorAt: null,
        warnings: [expect.stringContaining("hv-c has the address 10.77.0.2 of hv-b") as unknown],
      });
      f.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
