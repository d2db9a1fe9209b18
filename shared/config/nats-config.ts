import { z } from "zod";

const oneAuth = "Choose one of `creds`, `nkey_seed_file`, `user`+`password` or `token`.";

/** How a daemon or CLI reaches NATS. Shared by agent, orchestrator and CLI. */
export const NatsConfig = z
  .object({
    servers: z
      .array(z.string().min(1))
      .min(1)
      .default(["nats://127.0.0.1:4222"])
      .describe("NATS server URLs (`nats://` or `tls://`). List every server of a NATS cluster: a client moves to another one when its server goes away."),
    creds: z.string().optional().describe(`Path of a .creds file (JWT and nkey seed). ${oneAuth}`),
    nkey_seed_file: z
      .string()
      .optional()
      .describe(`Path of a file holding this identity's nkey seed (\`ballast credentials\` writes them; mode 0600). ${oneAuth}`),
    user: z.string().optional().describe(`User name; goes with \`password\`. ${oneAuth}`),
    password: z.string().optional().describe("Password of `user`."),
    token: z.string().optional().describe(`Authentication token. ${oneAuth}`),
    tls: z
      .object({
        ca: z.string().optional().describe("Path of the CA certificate that signed the server's certificate."),
        cert: z.string().optional().describe("Path of this client's certificate (for a nats-server with `verify: true`); goes with `key`."),
        key: z.string().optional().describe("Path of this client certificate's private key; goes with `cert`."),
      })
      .strict()
      .optional()
      .describe("TLS to the NATS servers (use `tls://` server URLs). Absent: no TLS files."),
    inbox_prefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,100}$/, "inbox_prefix must be one subject token of A-Z a-z 0-9 _ - (no dots, spaces or wildcards)")
      .optional()
      .meta({
        defaultText: "`_INBOX`",
        description:
          "Prefix of this client's reply inboxes: one subject token of `A-Z a-z 0-9 _ -`. With the generated credentials each identity may subscribe only below its own prefix, `_INBOX_<role>-<name>` (`ballast credentials` prints it), so nobody reads another's answers.",
      }),
    request_timeout: z.number().min(0.1).max(600).default(5).meta({ unit: "s", description: "How long to wait for the answer to a request." }),
  })
  .strict()
  .superRefine((c, ctx) => {
    const methods = [c.creds, c.nkey_seed_file, c.user ?? c.password, c.token].filter((x) => x !== undefined);
    if (methods.length > 1) ctx.addIssue({ code: "custom", message: "choose one of creds, nkey_seed_file, user/password or token" });
    if ((c.user === undefined) !== (c.password === undefined)) ctx.addIssue({ code: "custom", path: ["password"], message: "user and password go together" });
    if (c.tls && (c.tls.cert === undefined) !== (c.tls.key === undefined))
      ctx.addIssue({ code: "custom", path: ["tls"], message: "tls.cert and tls.key go together" });
  })
  .describe("How a daemon or the CLI reaches NATS: servers, authentication, TLS, timeouts.");
export type NatsConfig = z.infer<typeof NatsConfig>;
