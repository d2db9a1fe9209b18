import { z } from "zod";

/** How a daemon or CLI reaches NATS. Shared by agent, orchestrator and CLI. */
export const NatsConfig = z
  .object({
    servers: z.array(z.string().min(1)).min(1).default(["nats://127.0.0.1:4222"]),
    /** Path of a .creds file (JWT + nkey seed). */
    creds: z.string().optional(),
    /** Path of a file holding an nkey seed. */
    nkey_seed_file: z.string().optional(),
    user: z.string().optional(),
    password: z.string().optional(),
    token: z.string().optional(),
    tls: z
      .object({
        ca: z.string().optional(),
        cert: z.string().optional(),
        key: z.string().optional(),
      })
      .strict()
      .optional(),
    /**
     * Prefix of this client's reply inboxes (nats.js `inboxPrefix`, default `_INBOX`). With the
     * generated credentials each identity may subscribe only below its own prefix,
     * `_INBOX_<role>-<name>` (`ballast credentials` prints it), so nobody reads another's answers.
     */
    inbox_prefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,100}$/, "inbox_prefix must be one subject token of A-Z a-z 0-9 _ - (no dots, spaces or wildcards)")
      .optional(),
    /** Seconds to wait for a request's answer. */
    request_timeout: z.number().min(0.1).max(600).default(5),
  })
  .strict()
  .superRefine((c, ctx) => {
    const methods = [c.creds, c.nkey_seed_file, c.user ?? c.password, c.token].filter((x) => x !== undefined);
    if (methods.length > 1) ctx.addIssue({ code: "custom", message: "choose one of creds, nkey_seed_file, user/password or token" });
    if ((c.user === undefined) !== (c.password === undefined))
      ctx.addIssue({ code: "custom", path: ["password"], message: "user and password go together" });
    if (c.tls && (c.tls.cert === undefined) !== (c.tls.key === undefined))
      ctx.addIssue({ code: "custom", path: ["tls"], message: "tls.cert and tls.key go together" });
  });
export type NatsConfig = z.infer<typeof NatsConfig>;
