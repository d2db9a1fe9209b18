import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "fixtures", "libvirt");
/** Output captured from the real lab (test/fixtures/libvirt/lab). */
export const lab = (name: string) => readFileSync(join(ROOT, "lab", name), "utf8");
/** Hand-written variants (test/fixtures/libvirt/variants). */
export const variant = (name: string) => readFileSync(join(ROOT, "variants", name), "utf8");
