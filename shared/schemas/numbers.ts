import { z } from "zod";

/** Numbers behind a decision, by name (percent, MiB, seconds ...). */
export const Numbers = z.record(z.string(), z.union([z.number(), z.string(), z.boolean(), z.null()]));
export type Numbers = z.infer<typeof Numbers>;
