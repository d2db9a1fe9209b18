import type { PowerInterface, PowerInventory } from "../../../shared/config/power-inventory.js";
import { CommandDriver } from "./command-driver.js";
import { IpmiDriver, type IpmiDriverOptions } from "./ipmi-driver.js";
import type { PowerDriver } from "./power-driver.js";
import { RedfishDriver } from "./redfish-driver.js";
import { WolSshDriver } from "./wol-ssh-driver.js";

// The one place that knows which class serves which `driver:` of the power inventory.

export interface PowerDriverOptions {
  ipmi?: IpmiDriverOptions;
}

export function createPowerDriver(host: string, entry: PowerInterface, opts: PowerDriverOptions = {}): PowerDriver {
  switch (entry.driver) {
    case "ipmi":
      return new IpmiDriver(host, entry, opts.ipmi);
    case "redfish":
      return new RedfishDriver(host, entry);
    case "wol-ssh":
      return new WolSshDriver(host, entry);
    case "command":
      return new CommandDriver(host, entry);
  }
}

/** A driver per host of the inventory. */
export function createPowerDrivers(inventory: PowerInventory, opts: PowerDriverOptions = {}): Map<string, PowerDriver> {
  return new Map(Object.entries(inventory.hosts).map(([host, entry]) => [host, createPowerDriver(host, entry, opts)]));
}
