import { describe, expect, it } from "vitest";
import { addressProblem, isDnsName, isIPv4, isIPv6 } from "../../shared/net-address.js";
import { MigrationAddress } from "../../shared/schemas/ids.js";

describe("network addresses", () => {
  it.each(["10.10.0.1", "0.0.0.0", "255.255.255.255", "192.168.1.10"])("IPv4 %s", (a) => {
    expect(isIPv4(a)).toBe(true);
    expect(addressProblem(a)).toBeUndefined();
  });
  it.each(["10.10.0.999", "10.10.0", "10.10.0.1.2", "010.1.1.1", "1..1.1", "256.0.0.1"])("not IPv4: %s", (a) => {
    expect(isIPv4(a)).toBe(false);
    expect(addressProblem(a)).toMatch(/not an IPv4 address/);
  });
  it.each(["fd00::4", "::1", "::", "2001:db8::1", "2001:0db8:0000:0000:0000:ff00:0042:8329", "::ffff:10.0.0.1", "fe80::1:2:3:4:5:6"])("IPv6 %s", (a) => {
    expect(isIPv6(a)).toBe(true);
    expect(addressProblem(a)).toBeUndefined();
  });
  it.each([":::::", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::1", "1:2:3:4:5:6:7", "::ffff:10.0.0.999", "fe80::1%eth0", "[::1]"])("not IPv6: %s", (a) => {
    expect(isIPv6(a)).toBe(false);
    expect(addressProblem(a)).toBeDefined();
  });
  it.each(["hv-a", "mig-c.example.org", "a.b-c.d", "x1.example.org"])("DNS name %s", (a) => expect(isDnsName(a)).toBe(true));
  it.each(["-a.example.org", "a-.example", "a..b", "a.123", `${"a".repeat(64)}.org`, "a_b.example"])("not a DNS name: %s", (a) =>
    expect(isDnsName(a)).toBe(false),
  );

  it("MigrationAddress refuses what only looks like an address, with the reason", () => {
    for (const bad of ["10.10.0.999", ":::::", "host.1"]) {
      const r = MigrationAddress.safeParse(bad);
      expect(r.success, bad).toBe(false);
      expect(r.error?.issues[0]?.message).toContain(`address "${bad}" is not`);
    }
    expect(MigrationAddress.safeParse("fd00::4").success).toBe(true);
  });
});
