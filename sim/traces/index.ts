export { compareBytes, parseCpuMem, parsePlanetLab, parseTrace, percentToFractions, TraceParseError } from "./parse.js";
export type { TraceFormat, VmTrace } from "./parse.js";
export { checkSameLength, listTraceFiles, loadTraceDir, loadTraceDirs } from "./load.js";
export type { JoinedTraces, JoinOptions, LoadOptions } from "./load.js";
