import { describe, expect, it } from "vitest";
import { applyMoves, buildSnapshot, lowerBound, usedHosts, type HostShape, type VmShape } from "../../bench/consolidation.js";
import { domstatsOutput } from "../../bench/agent-cost.js";
import { median } from "../../bench/support.js";
import { parseDomstats } from "../../agent/virsh/parse-domstats.js";
import { Policy } from "../../shared/config/policy.js";

const host = (id: string, cpus = 10, memTotalMiB = 10_000): HostShape => ({ id, cpus, memTotalMiB });
const vm = (name: string, h: string, cores: number, memMiB: number): VmShape => ({ name, host: h, vcpus: 1, memMiB, cpuPercent: cores * 100 });

describe("consolidation lower bound", () => {
  const policy = Policy.parse({ consolidate_load: 50, max_load_candidate: 70, max_mem_candidate: 80, mem_reserve_mib: 0, max_vm_per_host: 100 });

  it("takes the binding resource: CPU at consolidate_load, memory at max_mem_candidate", () => {
    const hosts = ["a", "b", "c", "d"].map((id) => host(id));
    // 11 cores at 5 cores/host -> 3 hosts; 9,000 MiB at 8,000 MiB/host -> 2 hosts.
    const vms = [vm("v1", "a", 5, 3000), vm("v2", "b", 5, 3000), vm("v3", "c", 1, 3000)];
    expect(lowerBound(hosts, vms, policy)).toMatchObject({ hosts: 3, byCpu: 3, byMem: 2, binding: "cpu" });
  });

  it("counts the largest hosts first when hosts differ", () => {
    const hosts = [host("small", 10), host("big", 40), host("small2", 10)];
    const vms = [vm("v1", "small", 12, 100)];
    expect(lowerBound(hosts, vms, policy).byCpu).toBe(1);
  });

  it("respects mem_reserve_mib and mem_overcommit", () => {
    const p = Policy.parse({ max_mem_candidate: 100, mem_reserve_mib: 2000, mem_overcommit: 1 });
    const vms = [vm("v1", "a", 0, 9000)];
    expect(lowerBound([host("a"), host("b")], vms, p).byMem).toBe(2);
  });
});

describe("applyMoves", () => {
  it("moves VMs and recomputes host figures", () => {
    const s = buildSnapshot([host("a"), host("b")], [vm("v1", "a", 2, 1000), vm("v2", "b", 1, 500)]);
    expect(usedHosts(s)).toBe(2);
    const t = applyMoves(s, [{ vm: "v1", destination: "b" }]);
    expect(usedHosts(t)).toBe(1);
    const b = t.hosts.find((h) => h.id === "b")!;
    expect(b.cpuPercent).toBeCloseTo(30);
    expect(b.memAvailableMiB).toBe(8500);
    expect(t.hosts.find((h) => h.id === "a")!.address).toBe(s.hosts[0]!.address);
  });
});

describe("stand-in domstats output", () => {
  it("parses into the requested number of running domains", () => {
    const doms = parseDomstats(domstatsOutput(200));
    expect(doms).toHaveLength(200);
    expect(doms.every((d) => d.state === "running")).toBe(true);
    expect(doms[3]).toMatchObject({ name: "vm-003", vcpus: 4, memMiB: 4096 });
  });
});

it("median", () => {
  expect(median([3, 1, 2])).toBe(2);
  expect(median([4, 1, 2, 3])).toBe(2.5);
});
