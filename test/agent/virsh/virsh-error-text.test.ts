import { describe, expect, it } from "vitest";
import { libvirtErrorText } from "../../../agent/virsh/virsh-error-text.js";
import { fixture } from "../support/fixtures.js";

describe("libvirtErrorText", () => {
  it("passes libvirt's own message on, without the error: prefix", () => {
    expect(libvirtErrorText(fixture("error-migrate-connection-refused.txt"))).toBe("unable to connect to server at '127.0.0.9:16509': Connection refused");
    expect(libvirtErrorText(fixture("error-migrate-not-running.txt"))).toBe("Requested operation is not valid: domain is not running");
    expect(libvirtErrorText(fixture("error-no-domain.txt"))).toBe("failed to get domain 'nosuch'");
    expect(libvirtErrorText(fixture("error-migrate-aborted.txt"))).toBe("operation aborted: job 'migration out' canceled by client");
  });

  it("joins several error lines and keeps non-error text when there is no error line", () => {
    expect(libvirtErrorText(fixture("error-connect-no-daemon.txt"))).toBe(
      "Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory; failed to connect to the hypervisor",
    );
    expect(libvirtErrorText("segfault somewhere\n")).toBe("segfault somewhere");
    expect(libvirtErrorText("  \n", "exit code 1")).toBe("exit code 1");
    expect(libvirtErrorText(`error: ${"x".repeat(5000)}`).length).toBeLessThanOrEqual(1501);
  });
});
