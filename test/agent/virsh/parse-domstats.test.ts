import { describe, expect, it } from "vitest";
import { parseDomstats, parseDomstatsBlocks, vmStateFromLibvirt } from "../../../agent/virsh/parse-domstats.js";
import { fixture } from "../support/fixtures.js";

describe("parseDomstats (captured libvirt 9 output)", () => {
  it("reads every domain of one call with state, vcpus, memory in MiB and cpu.time", () => {
    const doms = parseDomstats(fixture("domstats-raw-libvirt9.txt"));
    expect(doms).toEqual([
      { name: "cap-vm2", state: "shutoff", vcpus: 1, memMiB: 128, maxMemMiB: 128, cpuTimeNs: null },
      { name: "cap-vm1", state: "running", vcpus: 1, memMiB: 128, maxMemMiB: 128, cpuTimeNs: 590_000_000 },
    ]);
  });

  it("keeps every raw field of a block", () => {
    const [, vm1] = parseDomstatsBlocks(fixture("domstats-raw-libvirt9.txt"));
    expect(vm1?.fields.get("balloon.rss")).toBe("41784");
    expect(vm1?.fields.get("vcpu.0.state")).toBe("1");
  });

  it("handles no domains, names with quotes-like characters and missing fields", () => {
    expect(parseDomstats("")).toEqual([]);
    expect(parseDomstats("\n")).toEqual([]);
    const d = parseDomstats("Domain: 'web-1.example'\n  state.state=3\n  balloon.maximum=2097152\n");
    expect(d).toEqual([{ name: "web-1.example", state: "paused", vcpus: 0, memMiB: 2048, maxMemMiB: 2048, cpuTimeNs: null }]);
  });

  it("maps libvirt state numbers", () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7, 99].map(vmStateFromLibvirt)).toEqual([
      "other", "running", "running", "paused", "shutoff", "shutoff", "crashed", "suspended", "other",
    ]);
  });
});
