import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseDomstats, parseDomstatsBlocks, vmStateFromLibvirt } from "../../../agent/virsh/parse-domstats.js";
import type { DomainStats } from "../../../agent/ports/hypervisor.js";
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
      "other",
      "running",
      "running",
      "paused",
      "shutoff",
      "shutoff",
      "crashed",
      "suspended",
      "other",
    ]);
  });

  it("reads the same as the generic block parser, on any mix of lines", () => {
    // The reference: every field kept in a map per block, then the five that count read from it.
    const viaBlocks = (text: string): DomainStats[] =>
      parseDomstatsBlocks(text).map(({ name, fields }) => {
        const num = (k: string) => {
          const v = fields.get(k);
          return v === undefined || v === "" || !Number.isFinite(Number(v)) ? undefined : Number(v);
        };
        const maxKiB = num("balloon.maximum");
        const curKiB = num("balloon.current") ?? maxKiB;
        const state = vmStateFromLibvirt(num("state.state") ?? 0);
        return {
          name,
          state,
          vcpus: num("vcpu.current") ?? 0,
          memMiB: curKiB === undefined ? 0 : curKiB / 1024,
          maxMemMiB: maxKiB === undefined ? (curKiB ?? 0) / 1024 : maxKiB / 1024,
          cpuTimeNs: state === "shutoff" ? null : (num("cpu.time") ?? null),
        };
      });
    const key = fc.constantFrom(
      "state.state",
      "cpu.time",
      "balloon.current",
      "balloon.maximum",
      "vcpu.current",
      "vcpu.0.time",
      "state.stateX",
      "cpu.timer",
      "balloon.rss",
    );
    const value = fc.constantFrom("1", "3", "5", "", " 42 ", "590000000", "abc", "1e3", "-1");
    const line = fc.oneof(
      fc.tuple(fc.constantFrom("  ", "\t", "    ", ""), key, fc.constantFrom("=", " =", "=="), value).map(([i, k, eq, v]) => `${i}${k}${eq}${v}`),
      fc.constantFrom("web-1", "a.b", "x'y", "").map((n) => `Domain: '${n}'`),
      fc.constantFrom("", "Domain: 'broken", "  Domain: 'indented'", "garbage"),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 30 }), fc.constantFrom("\n", "\r\n"), (lines, eol) => {
        const text = lines.join(eol) + eol;
        expect(parseDomstats(text)).toEqual(viaBlocks(text));
      }),
      { numRuns: 2000 },
    );
    expect(parseDomstats(fixture("domstats-raw-libvirt9.txt"))).toEqual(viaBlocks(fixture("domstats-raw-libvirt9.txt")));
  });
});
