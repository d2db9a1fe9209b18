import { z } from "zod";
import { HostId } from "../schemas/ids.js";

// The power inventory: how the orchestrator reaches each host's power interface. A YAML file named
// by `power.inventory` in orchestrator.yaml. Secrets are never in it: each driver names a file
// (password, private key) that only the orchestrator's user may read; the loader refuses a secret
// file that group or others can read.

const secretFile = z
  .string()
  .min(1)
  .max(4096)
  .describe("Path of a file holding the secret (first line; trailing newline ignored). Must not be readable by group or others.");
const timeout = z.number().min(0.1).max(600).default(20).meta({ unit: "s", description: "How long one call of the driver may take before it fails." });

export const IpmiPower = z
  .object({
    driver: z.literal("ipmi"),
    address: z.string().min(1).max(253).describe("The BMC's address (IPv4, IPv6 or name)."),
    port: z.number().int().min(1).max(65_535).default(623).describe("The BMC's RMCP+ UDP port."),
    username: z.string().min(1).max(64).describe("BMC user (needs operator privilege for power control)."),
    password_file: secretFile,
    interface: z.enum(["lanplus", "lan"]).default("lanplus").describe("ipmitool interface: `lanplus` (IPMI 2.0, default) or `lan` (IPMI 1.5)."),
    cipher_suite: z
      .number()
      .int()
      .min(0)
      .max(17)
      .default(3)
      .describe("RMCP+ cipher suite (`ipmitool -C`); 3 by default: without one, ipmitool first asks the BMC for its suites, which some BMCs answer slowly."),
    timeout,
  })
  .strict()
  .describe(
    "IPMI over LAN through `ipmitool` (`chassis power status|on|soft|off`). The password reaches ipmitool in a file (`-f`), never on its command line.",
  );

export const RedfishPower = z
  .object({
    driver: z.literal("redfish"),
    url: z.string().url().startsWith("https://", "Redfish must be reached over https").describe("The BMC's base URL, e.g. `https://bmc-hv-a.example`."),
    system: z
      .string()
      .regex(/^\/redfish\/v1\/Systems\/[^/?#]+$/, "system must be a path like /redfish/v1/Systems/1")
      .optional()
      .describe("The ComputerSystem resource path; absent: the only member of `/redfish/v1/Systems` (an error when there are several)."),
    username: z.string().min(1).max(64).describe("Redfish user (HTTP basic authentication)."),
    password_file: secretFile,
    ca_file: z
      .string()
      .min(1)
      .max(4096)
      .optional()
      .describe(
        "PEM file of the CA (or the BMC's own certificate) to trust; absent: Node.js's bundled CA list (plus NODE_EXTRA_CA_CERTS). Certificates are always checked.",
      ),
    timeout,
  })
  .strict()
  .describe("Redfish over HTTPS: `PowerState` of the ComputerSystem, and its `ComputerSystem.Reset` action (`On`, `GracefulShutdown`, `ForceOff`).");

export const WolSshPower = z
  .object({
    driver: z.literal("wol-ssh"),
    mac: z
      .string()
      .regex(/^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$/, "mac must look like 52:54:00:12:34:56")
      .describe("MAC address of the interface that wakes the host."),
    broadcast: z.string().min(1).max(253).default("255.255.255.255").describe("Where the magic packet is sent (a subnet's broadcast address)."),
    wol_port: z.number().int().min(1).max(65_535).default(9).describe("UDP port of the magic packet."),
    ssh_host: z.string().min(1).max(253).describe("The host's SSH address: a clean shutdown runs there, and an answering SSH server reads as on."),
    ssh_port: z.number().int().min(1).max(65_535).default(22),
    ssh_user: z.string().min(1).max(64).default("root"),
    private_key_file: secretFile,
    known_hosts_file: z.string().min(1).max(4096).describe("OpenSSH known_hosts file with the host's key: the host key is always checked."),
    shutdown_command: z
      .array(z.string().min(1).max(256))
      .min(1)
      .default(["systemctl", "poweroff"])
      .describe("The clean shutdown, as an argument array (each argument is quoted for the remote shell)."),
    timeout,
  })
  .strict()
  .describe(
    "Wake-on-LAN to switch on, a clean shutdown over SSH to switch off. The state is read over SSH: an SSH server that answers with the right host key is on; one that does not answer is off.",
  );

export const CommandPower = z
  .object({
    driver: z.literal("command"),
    status: z
      .array(z.string().min(1).max(4096))
      .min(1)
      .describe("Argument array that prints the state: its output must contain `on` or `off` (first match on its first line)."),
    on: z.array(z.string().min(1).max(4096)).min(1).describe("Argument array that switches the host on; exit status 0 means accepted."),
    off: z.array(z.string().min(1).max(4096)).min(1).describe("Argument array that switches the host off; exit status 0 means accepted."),
    timeout,
  })
  .strict()
  .describe("An operator's own commands (a PDU, a cloud API, a script), run without a shell; `BALLAST_HOST` is set to the host's id.");

export const PowerInterface = z.discriminatedUnion("driver", [IpmiPower, RedfishPower, WolSshPower, CommandPower]);
export type PowerInterface = z.infer<typeof PowerInterface>;

export const PowerInventory = z
  .object({
    hosts: z.record(HostId, PowerInterface).describe("Each host's power interface, by host id. Hosts not listed are never switched."),
  })
  .strict()
  .describe("How the orchestrator reaches each host's power interface (power management and fencing).");
export type PowerInventory = z.infer<typeof PowerInventory>;
