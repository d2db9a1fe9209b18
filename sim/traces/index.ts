export { compareBytes, parseCpuMem, parsePlanetLab, parseTrace, percentToFractions, TraceParseError } from "./parse.js";
export type { TraceFormat, VmTrace } from "./parse.js";
export { listTraceFiles, loadTraceDir } from "./load.js";
export type { LoadOptions } from "./load.js";
