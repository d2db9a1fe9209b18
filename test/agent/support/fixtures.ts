import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "fixtures", "virsh");
export const fixture = (name: string) => readFileSync(join(FIXTURES, name), "utf8");
