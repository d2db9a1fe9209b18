import { describe, expect, it } from "vitest";
import { parseCapabilities } from "../../../agent/virsh/parse-capabilities.js";
import { lab, variant } from "../facts/fixtures.js";

describe("parseCapabilities", () => {
  it("reads the lab's host CPU, x86_64 machine types with their canonical names, and domain types", () => {
    const c = parseCapabilities(lab("capabilities.xml"));
    expect(c.arch).toBe("x86_64");
    expect(c.vendor).toBe("Intel");
    expect(c.model).toBe("Broadwell");
    expect(c.features).toContain("avx512f");
    expect(c.features).toEqual([...c.features].sort());
    expect(c.domainTypes).toEqual(["kvm", "qemu"]);
    expect(c.machineTypes).toContain("pc");
    expect(c.machineTypes).toContain("pc-i440fx-7.2");
    expect(c.machineTypes).toContain("q35");
    expect(c.machineTypes).toContain("pc-q35-7.2");
    // the capture lists 120 <machine> entries over i686 and x86_64; x86_64's alone, unique
    const x86 = lab("capabilities.xml").split("<arch name='x86_64'>")[1]!.split("</arch>")[0]!;
    const names = new Set([...x86.matchAll(/<machine[^>]*>([^<]+)<\/machine>/g)].map((m) => m[1]));
    expect(c.machineTypes).toEqual([...names].sort());
  });

  it("adds machine types listed under a domain type and leaves out other architectures' (EPYC KVM host)", () => {
    const c = parseCapabilities(variant("capabilities-epyc-kvm.xml"));
    expect(c).toMatchObject({ arch: "x86_64", vendor: "AMD", model: "EPYC-Rome", domainTypes: ["kvm", "qemu"] });
    expect(c.features).toContain("svm");
    expect(c.machineTypes).toEqual(["pc", "pc-i440fx-1.7", "pc-i440fx-7.2", "pc-q35-6.2", "pc-q35-7.2", "pc-q35-rhel9.2.0", "q35", "q35-rhel"]);
    expect(c.machineTypes).not.toContain("isapc"); // only i686's
  });

  it("refuses output without a host CPU arch, and XML with a DOCTYPE", () => {
    expect(() => parseCapabilities("<capabilities><host/></capabilities>")).toThrow(/no <host><cpu><arch>/);
    expect(() => parseCapabilities(`<!DOCTYPE x [<!ENTITY a "b">]><capabilities/>`)).toThrow(/DOCTYPE/);
    expect(() => parseCapabilities("<capabilities><host>")).toThrow();
  });
});
