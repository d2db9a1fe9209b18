// Tests drive the lab through the same module as `ballast demo` (deploy/lab/lab-control.ts).
export * from "../../deploy/lab/lab-control.js";
