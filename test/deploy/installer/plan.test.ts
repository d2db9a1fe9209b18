import { describe, expect, it } from "vitest";
import {
  parseProbe,
  planHost,
  prerequisiteProblems,
  parseNodeVersion,
  nodeArch,
  releaseOf,
  type Action,
  type Desired,
  type PrerequisiteInput,
  type Probe,
} from "../../../deploy/installer/plan.js";

const SHA = "a".repeat(64);
const OLD = "b".repeat(64);
const desired: Desired = { releaseSha: SHA, configSha: "c1", configMeta: "640:ballast", unitSha: "u1", sysusersSha: "s1" };

// Builder: a host that is fully up to date, tweaked by `apply`.
function probe(apply: (p: Probe) => void = () => undefined): Probe {
  const p: Probe = {
    uid: 0,
    node: "v20.19.2",
    virsh: "/usr/bin/virsh",
    missing: [],
    groupExists: true,
    userExists: true,
    sysusersAvailable: true,
    sysusersSha: "s1",
    current: `releases/${SHA}`,
    releasePresent: true,
    configSha: "c1",
    configMeta: "640:ballast",
    unitSha: "u1",
    seedSha: undefined,
    seedMeta: undefined,
    active: "active",
    enabled: "enabled",
  };
  apply(p);
  return p;
}

describe("planHost", () => {
  it.each<[string, (p: Probe) => void, Action[]]>([
    ["up to date", () => undefined, []],
    [
      "a fresh host",
      (p) =>
        Object.assign(p, {
          current: "",
          releasePresent: false,
          configSha: undefined,
          configMeta: undefined,
          unitSha: undefined,
          active: "inactive",
          enabled: "",
          userExists: false,
          groupExists: false,
          sysusersSha: undefined,
        }),
      ["upload-release", "extract-release", "create-user", "write-config", "write-unit", "switch-release", "daemon-reload", "enable", "restart"],
    ],
    [
      "a new release",
      (p) => Object.assign(p, { current: `releases/${OLD}`, releasePresent: false }),
      ["upload-release", "extract-release", "switch-release", "restart"],
    ],
    ["a release already uploaded but not current", (p) => Object.assign(p, { current: `/opt/ballast/releases/${OLD}` }), ["switch-release", "restart"]],
    [
      "a changed config",
      (p) => {
        p.configSha = "c0";
      },
      ["write-config", "restart"],
    ],
    [
      "a config with the wrong mode",
      (p) => {
        p.configMeta = "644:root";
      },
      ["write-config", "restart"],
    ],
    [
      "a changed unit",
      (p) => {
        p.unitSha = "u0";
      },
      ["write-unit", "daemon-reload", "restart"],
    ],
    [
      "a host without the service user",
      (p) => {
        p.userExists = false;
      },
      ["create-user"],
    ],
    [
      "a host without the service group",
      (p) => {
        p.groupExists = false;
      },
      ["create-user"],
    ],
    [
      "a host whose sysusers.d file differs",
      (p) => {
        p.sysusersSha = "s0";
      },
      ["create-user"],
    ],
    [
      "a stopped service",
      (p) => {
        p.active = "failed";
      },
      ["start"],
    ],
    [
      "a disabled unit",
      (p) => {
        p.enabled = "disabled";
      },
      ["enable"],
    ],
    [
      "a current symlink that is not a release",
      (p) => {
        p.current = "/somewhere/else";
      },
      ["switch-release", "restart"],
    ],
  ])("%s", (_name, apply, actions) => {
    const plan = planHost(desired, probe(apply));
    expect(plan.actions).toEqual(actions);
    expect(plan.changed).toBe(actions.length > 0);
    for (const a of actions) expect(plan.reasons[a]).toBeTruthy();
  });

  it("installs a shipped NATS seed when it is missing, differs or has the wrong owner, and restarts", () => {
    const withSeed: Desired = { ...desired, seed: { sha: "k1", meta: "600:ballast:ballast" } };
    expect(planHost(withSeed, probe()).actions).toEqual(["write-seed", "restart"]);
    expect(
      planHost(
        withSeed,
        probe((p) => Object.assign(p, { seedSha: "k0", seedMeta: "600:ballast:ballast" })),
      ).reasons["write-seed"],
    ).toBe("NATS seed differs");
    expect(
      planHost(
        withSeed,
        probe((p) => Object.assign(p, { seedSha: "k1", seedMeta: "644:root:root" })),
      ).reasons["write-seed"],
    ).toMatch(/644:root:root should be 600:ballast:ballast/);
    expect(
      planHost(
        withSeed,
        probe((p) => Object.assign(p, { seedSha: "k1", seedMeta: "600:ballast:ballast" })),
      ).actions,
    ).toEqual([]);
    // Without shipped seeds the installer leaves whatever seed is there alone.
    expect(
      planHost(
        desired,
        probe((p) => Object.assign(p, { seedSha: "other" })),
      ).actions,
    ).toEqual([]);
  });

  it("remembers the release to roll back to", () => {
    expect(
      planHost(
        desired,
        probe((p) => {
          p.current = `releases/${OLD}`;
        }),
      ).previousRelease,
    ).toBe(OLD);
    expect(
      planHost(
        desired,
        probe((p) => {
          p.current = "";
        }),
      ).previousRelease,
    ).toBeUndefined();
  });
});

describe("parseProbe", () => {
  it("reads the probe script's key=value lines", () => {
    const p = parseProbe(
      [
        "uid=0",
        "node=v20.19.2",
        "virsh=not-needed",
        "missing=tar",
        "missing=systemctl",
        "group=yes",
        "user=no",
        "sysusers_cmd=yes",
        "sysusers=",
        `current=releases/${SHA}`,
        "release=no",
        "config=abc",
        "config_meta=640:ballast",
        "unit=",
        "seed=",
        "active=inactive",
        "enabled=disabled",
        "garbage line",
      ].join("\n"),
    );
    expect(p).toEqual({
      uid: 0,
      node: "v20.19.2",
      virsh: "not-needed",
      missing: ["tar", "systemctl"],
      groupExists: true,
      userExists: false,
      sysusersAvailable: true,
      sysusersSha: undefined,
      current: `releases/${SHA}`,
      releasePresent: false,
      configSha: "abc",
      configMeta: "640:ballast",
      unitSha: undefined,
      seedSha: undefined,
      seedMeta: undefined,
      active: "inactive",
      enabled: "disabled",
    });
  });
});

describe("prerequisites", () => {
  const base: Omit<PrerequisiteInput, "probe"> = {
    node: "node",
    minNode: [20, 19],
    driver: "virsh",
    virshBinary: "virsh",
    serviceGroup: "ballast",
    serviceUser: "ballast",
    sysusers: "systemd-sysusers",
    become: "none",
  };
  it.each<[string, (p: Probe) => void, Partial<typeof base>, RegExp | undefined]>([
    ["all there", () => undefined, {}, undefined],
    [
      "no node",
      (p) => {
        p.node = "";
      },
      {},
      /Node\.js is not installed .* needs Node >= 20\.19/,
    ],
    [
      "old node",
      (p) => {
        p.node = "v18.19.0";
      },
      {},
      /Node\.js v18\.19\.0 is too old/,
    ],
    [
      "node 20 below the engine minimum",
      (p) => {
        p.node = "v20.11.1";
      },
      {},
      /too old/,
    ],
    [
      "no virsh with driver virsh",
      (p) => {
        p.virsh = "";
      },
      {},
      /virsh .* is not installed/,
    ],
    [
      "no virsh with driver sim",
      (p) => {
        p.virsh = "not-needed";
      },
      { driver: "sim" },
      undefined,
    ],
    [
      "not root",
      (p) => {
        p.uid = 1000;
      },
      {},
      /not root \(uid 1000\); set become: sudo/,
    ],
    [
      "sudo refused",
      (p) => {
        p.uid = undefined;
      },
      { become: "sudo" },
      /sudo -n did not give root/,
    ],
    [
      "missing tools",
      (p) => {
        p.missing = ["tar"];
      },
      {},
      /missing commands: tar/,
    ],
    [
      "no group, created by systemd-sysusers",
      (p) => {
        p.groupExists = false;
      },
      {},
      undefined,
    ],
    [
      "no user and no systemd-sysusers",
      (p) => {
        p.userExists = false;
        p.sysusersAvailable = false;
      },
      {},
      /user 'ballast' missing and `systemd-sysusers` is not there/,
    ],
    [
      "no group and no systemd-sysusers",
      (p) => {
        p.groupExists = false;
        p.sysusersAvailable = false;
      },
      { serviceGroup: "hv" },
      /group 'hv' missing/,
    ],
    [
      "user there, no systemd-sysusers",
      (p) => {
        p.sysusersAvailable = false;
      },
      {},
      undefined,
    ],
  ])("%s", (_n, apply, over, problem) => {
    const out = prerequisiteProblems({ ...base, ...over, probe: probe(apply) });
    if (problem === undefined) expect(out).toEqual([]);
    else expect(out.join("; ")).toMatch(problem);
  });

  describe("with a Node runtime in the release", () => {
    const runtime = { version: "v20.20.2", arch: "x64" };
    it.each<[string, (p: Probe) => void, RegExp | undefined]>([
      ["same architecture, no node on the host", (p) => Object.assign(p, { arch: "x86_64", node: "" }), undefined],
      ["same architecture, Debian's old node on the host", (p) => Object.assign(p, { arch: "x86_64", node: "v18.19.0" }), undefined],
      [
        "another architecture",
        (p) => Object.assign(p, { arch: "aarch64", node: "" }),
        /^this host is aarch64 \(Node: arm64\), but the release carries Node v20\.20\.2 for x64, the architecture of the machine that built it; deploy this host from a arm64 machine/,
      ],
      [
        "an architecture Node has no name for",
        (p) => Object.assign(p, { arch: "mips" }),
        /this host is mips \(Node: mips\), but the release carries Node v20\.20\.2 for x64/,
      ],
      ["architecture unknown", (p) => Object.assign(p, { arch: undefined }), /cannot tell this host's architecture .* Node runtime for x64/],
    ])("%s", (_n, apply, problem) => {
      const out = prerequisiteProblems({ ...base, runtime, probe: probe(apply) });
      if (problem === undefined) expect(out).toEqual([]);
      else expect(out.join("; ")).toMatch(problem);
    });

    it("names architectures as Node does", () => {
      expect(["x86_64", "aarch64", "armv7l", "ppc64le", "s390x", "riscv64", " x86_64\n"].map(nodeArch)).toEqual([
        "x64",
        "arm64",
        "arm",
        "ppc64",
        "s390x",
        "riscv64",
        "x64",
      ]);
    });
  });

  it("reads the platform and the installed release's runtime from the probe", () => {
    const p = parseProbe(["uid=0", "node=", "arch=x86_64", "libc=glibc 2.36", "current_runtime=v20.20.2", "current=releases/x"].join("\n"));
    expect(p).toMatchObject({ node: "", arch: "x86_64", libc: "glibc 2.36", currentRuntime: "v20.20.2" });
    expect(parseProbe("arch=aarch64\nlibc=\ncurrent_runtime=\n")).toMatchObject({ arch: "aarch64", libc: undefined, currentRuntime: undefined });
  });

  it("parses versions and release links", () => {
    expect(parseNodeVersion("v20.19.2\n")).toEqual([20, 19, 2]);
    expect(parseNodeVersion("bash: node: not found")).toBeUndefined();
    expect(releaseOf(`releases/${SHA}`)).toBe(SHA);
    expect(releaseOf(`/opt/ballast/releases/${SHA}/`)).toBe(SHA);
    expect(releaseOf("releases/xyz")).toBeUndefined();
  });
});
