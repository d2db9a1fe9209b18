// Public surface of the installer (`ballast deploy`): every export by name.
export { runDeploy, deploy, checkoutRoot, mapLimit, type RunDeployArgs, type DeployOptions } from "./deploy.js";
export { renderDeployReport, type DeployReport } from "./report.js";
export {
  installHost,
  type HostReport,
  type HostFailure,
  type RollbackReport,
  type RuntimeReport,
  type StepReport,
  type HostStatus,
  type HostContext,
} from "./host-installer.js";
export {
  Inventory,
  InventoryHost,
  Defaults,
  SshSettings,
  InstallPaths,
  ServiceManager,
  VerifySettings,
  RemotePath,
  RemoteCommand,
  SshAddress,
  UnixName,
  parseInventory,
  loadInventory,
  resolveHosts,
  verifyNats,
  agentSettings,
  renderAgentYaml,
  localPath,
  type HostTarget,
  type InventoryInput,
} from "./inventory.js";
export {
  buildRelease,
  productionPackages,
  minNodeVersion,
  inspectRuntime,
  runtimeLicenseCandidates,
  ReleaseError,
  type Release,
  type ReleaseRuntime,
  type ReleaseOptions,
} from "./release.js";
export {
  planHost,
  parseProbe,
  prerequisiteProblems,
  parseNodeVersion,
  nodeArch,
  releaseOf,
  COMMIT_ACTIONS,
  type Action,
  type Probe,
  type Desired,
  type HostPlan,
  type PrerequisiteInput,
} from "./plan.js";
export { shellQuote, shellJoin } from "./shell-quote.js";
export { SshRemote, SshError, type RemoteHost, type ExecResult } from "./ssh-remote.js";
export { NatsPinger, type AgentPinger, type PingOutcome } from "./verify.js";
export { renderUnit, readUnitTemplate, UNIT_TEMPLATE } from "./unit.js";
export { parseKnownHosts, checkHostKey, knownHostName, patternsMatch, fingerprint, type KnownHostEntry, type HostKeyVerdict } from "./known-hosts.js";
export { renderSysusers, readSysusersTemplate, serviceUserOf, SYSUSERS_TEMPLATE } from "./sysusers.js";
