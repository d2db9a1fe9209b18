// The simulator's public surface, by name.
export { Simulation, simulate, EngineError } from "./engine.js";
export type { EngineOptions, RunMetrics, PowerMetrics } from "./engine.js";
export type {
  ConsolidationPolicy,
  MigrationRequest,
  SimView,
  SimHostView,
  SimVmView,
  InFlightView,
  HostPowerView,
  PowerRequest,
  StepPlan,
} from "./policies/policy.js";
export {
  HostPowerModel,
  HostPowerError,
  stateEnergyJ,
  cycleStats,
  validateBootModel,
  DEFAULT_BOOT_TIME_S,
  DEFAULT_SHUTDOWN_TIME_S,
  INSTANT,
} from "./model/host-power.js";
export type { BootModel, BootModelOptions, SimPowerState, CycleStats, SwitchResult } from "./model/host-power.js";
export { powerTable } from "./report/power-table.js";
export { CloudSimPolicy, cloudSimPolicy, CLOUDSIM_BASELINES } from "./policies/cloudsim/policy.js";
export type { CloudSimPolicyOptions } from "./policies/cloudsim/policy.js";
export type { CloudSimVariant } from "./policies/cloudsim/pabfd.js";
export { makeDetector, thresholdDetector, localRegressionDetector, iqrDetector, madDetector, hostLoad } from "./policies/cloudsim/detectors.js";
export type { HostLoad, OverloadDetector, DetectorName } from "./policies/cloudsim/detectors.js";
export { PlannerPolicy, makeAdapterContext } from "./policies/ballast-adapter.js";
export type { SnapshotPlanner, AdapterContext, PlannerPolicyOptions, PastMoveRecord } from "./policies/ballast-adapter.js";
export { CLOUDSIM_DATACENTRE, CLOUDSIM_VM_TYPES, HOST_G4, HOST_G5, migrationTimeS, vmTypeIndex } from "./model/datacentre.js";
export type { DataCentreSpec, HostType, VmType } from "./model/datacentre.js";
export { POWER_G4, POWER_G5, powerAt, intervalEnergyJ } from "./model/power.js";
export { loadTraceDir, loadTraceDirs, listTraceFiles, parsePlanetLab, parseCpuMem, parseTrace } from "./traces/index.js";
export type { VmTrace, TraceFormat } from "./traces/index.js";
export { writeMetricsJson, toMetricsJson } from "./report/metrics-json.js";
export type { RunRecord } from "./report/metrics-json.js";
export { energySlavSvg, migrationsPerHourSvg } from "./report/svg.js";
export { calibrateOne, formatTable, PLANETLAB_DAYS, CALIBRATION_BAR } from "./calibration.js";
export { BallastPolicy, BallastPlanner, ballastPolicy, simPolicy, UNBOUNDED_MEMORY_MIB } from "./policies/ballast.js";
export type { BallastSimOptions, MemoryModel } from "./policies/ballast.js";
export {
  runSim,
  bootModelOf,
  powerLine,
  loadRunTraces,
  workloadOf,
  vmLine,
  formatRun,
  policyByName,
  specOf,
  parseVmTypes,
  summarise,
  comparisonTable,
  goalTable,
  twoResourceTable,
  planetLabGoal,
  TARGET,
} from "./comparison.js";
export type { SimRunOptions, Summary, GoalVerdict } from "./comparison.js";
export { renderReport, readRuns } from "./report/render.js";
export type { RenderedReport, ReportOptions } from "./report/render.js";
export { ratioTable, resolveBaseline, CPU_GOALS, MEMORY_GOALS, ReportError } from "./report/ratios.js";
export { runSweep } from "./sweep.js";
export type { SweepOptions, SweepResult } from "./sweep.js";
export { SIZINGS, isSizing, ownTraceSizing, REFERENCE_VM, fewestHosts, unplacedAt, SizingError } from "./sizing.js";
export type { Sizing } from "./sizing.js";
export { scatterSvg } from "./report/svg.js";
