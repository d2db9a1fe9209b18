import { existsSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { z } from "zod";
import { withClient, callOrchestrator, type ClientOptions } from "./client.js";
import { table } from "./table.js";
import { renderDecisions, renderEvacuate, renderExplain, renderHistory, renderPlan, renderStatus } from "./render.js";
import { renderCpuBaseline, renderFacts } from "./render-facts.js";
import { renderExplainHost, renderPowerCommand, renderPowerStatus } from "./render-power.js";
import { renderRecords } from "./render-records.js";
import { renderRecover, renderRecoveryStatus } from "./render-recovery.js";
import { HISTORY_KINDS, mergeHistory, renderTimeline, type HistoryKind } from "./render-history.js";
import { offlinePlan } from "./offline-plan.js";
import { ClusterSnapshot } from "../shared/schemas/snapshot.js";
import { Plan } from "../shared/schemas/plan.js";
import { Policy } from "../shared/config/policy.js";
import { BallastError, describeError } from "../shared/errors.js";
import type { OrchestratorEndpoint, ReplyOf, RequestInput } from "../shared/schemas/orchestrator-api.js";
import { BALLAST_VERSION } from "../shared/version.js";

// `ballast`: daemons (agent, orchestrator), operator commands over NATS, offline planning,
// the demo and the lab. Every operator command prints a table, or the reply envelope with --json.

type Out = { out: (s: string) => void; err: (s: string) => void };

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** The options that say where the orchestrator is: NATS servers, a config file, a time limit. */
function connection(c: Command): Command {
  return c
    .option("-s, --server <urls>", "NATS server URL(s), comma-separated (default: config or nats://127.0.0.1:4222)")
    .option(
      "-c, --config <file>",
      "config file: the daemon's own for agent/orchestrator; for client commands, an orchestrator config whose nats section is used",
    )
    .option("--timeout <seconds>", "request timeout in seconds");
}

export async function main(
  argv: string[],
  io: Out = { out: (s) => process.stdout.write(s + "\n"), err: (s) => process.stderr.write(s + "\n") },
): Promise<number> {
  let code = 0;
  const program = new Command("ballast")
    .description("Ballast: live-migration balancer for KVM/libvirt clusters over NATS")
    .version(BALLAST_VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  // The connection options (and -c for the daemons) are the program's, so they may come before
  // the command or after it (`ballast -c orchestrator.yaml status` as the example configs write it,
  // or `ballast status -c ...`); every action reads them with optsWithGlobals().
  connection(program);

  // Listed on each client command too, for its --help; the values land in the program's options.
  const client = (c: Command) => connection(c).option("--json", "print the JSON reply envelope instead of a table");

  /** The options every client command may have; each command reads its own from the same bag. */
  type Opts = ClientOptions & { json?: boolean } & Record<string, string | boolean | undefined>;
  const call = <E extends OrchestratorEndpoint>(endpoint: E, body: (opts: Opts, args: string[]) => RequestInput<E>, render: (d: ReplyOf<E>) => string) =>
    async function (this: Command, ...args: unknown[]) {
      const opts = this.optsWithGlobals<Opts>();
      // A variadic argument (`[hosts...]`) arrives as one array.
      const positional = args
        .slice(0, -2)
        .flat()
        .filter((a): a is string => typeof a === "string");
      code = await withClient(opts, process.env, async (nc, cfg) => {
        const reply = await callOrchestrator(nc, cfg, endpoint, body(opts, positional));
        if (opts.json) io.out(JSON.stringify(reply, null, 2));
        else if (reply.ok) io.out(render(reply.data));
        else io.err(`error ${reply.error.code}: ${reply.error.message}`);
        return reply.ok ? 0 : 1;
      });
    };

  program
    .command("agent")
    .description("run the agent daemon (one per hypervisor)")
    .option("-c, --config <file>", "agent config file (YAML or JSON)")
    .action(async function (this: Command) {
      const { runAgent } = await import("../agent/main.js");
      code = await runAgent(this.optsWithGlobals<{ config?: string }>().config, process.env);
    });
  program
    .command("orchestrator")
    .description("run the orchestrator daemon (one per cluster)")
    .option("-c, --config <file>", "orchestrator config file (YAML or JSON)")
    .action(async function (this: Command) {
      const { runOrchestrator } = await import("../orchestrator/main.js");
      code = await runOrchestrator(this.optsWithGlobals<{ config?: string }>().config, process.env);
    });

  client(program.command("status").description("hosts, loads, migrations in flight")).action(call("status", () => ({}), renderStatus));
  client(
    program
      .command("plan")
      .description("what the orchestrator would do now (dry run); with --snapshot, plan offline from a file")
      .addOption(new Option("--mode <mode>", "cycle | balance | consolidate | evacuate").default("cycle"))
      .option("--host <host>", "host to evacuate (mode evacuate)")
      .addOption(new Option("--placement <p>", "evacuation placement").choices(["stripe", "pack"]))
      .option("--use-empty", "evacuation may use empty hosts")
      .option("--snapshot <file>", "plan offline from this snapshot file (no service needed)")
      .option("--policy <file>", "offline: policy file (YAML/JSON); default policy otherwise")
      .option("--now <ms>", "offline: planning time, ms since the epoch (default: the snapshot's takenAt)"),
  ).action(async function (this: Command) {
    const o = this.optsWithGlobals<Opts>();
    const snapshot = str(o.snapshot);
    const mode = str(o.mode) ?? "cycle";
    if (snapshot !== undefined) {
      const placement = str(o.placement) as "stripe" | "pack" | undefined;
      const p = offlinePlan({
        snapshotFile: snapshot,
        policyFile: str(o.policy),
        mode,
        host: str(o.host),
        placement,
        useEmpty: Boolean(o.useEmpty),
        now: str(o.now),
      });
      io.out(o.json ? JSON.stringify(p, null, 2) : renderPlan(p));
      return;
    }
    // Commander has checked --mode and --placement against their choices; the orchestrator validates the rest.
    const body = {
      mode,
      ...(o.host ? { host: str(o.host) } : {}),
      ...(o.placement ? { placement: str(o.placement) } : {}),
      ...(o.useEmpty ? { useEmptyHosts: true } : {}),
    } as RequestInput<"plan">;
    await call("plan", () => body, renderPlan).call(this);
  });
  client(program.command("run").description("run a cycle now")).action(
    call(
      "run",
      () => ({}),
      (d) => renderPlan(d.plan) + `\nqueued: ${d.queued}`,
    ),
  );
  client(program.command("approve <planId>").description("apply a pending plan (manual / partial automation)")).action(
    call(
      "approve",
      (_o, [id]) => ({ planId: id ?? "" }),
      (d) => `plan ${d.planId}: ${d.queued} migration(s) queued`,
    ),
  );
  client(program.command("migrate <vm>").description("move a VM to a host, or to the best host").option("--to <host>", "destination host")).action(
    call(
      "migrate",
      (o, [vm]) => ({ vm: vm ?? "", ...(o.to ? { to: str(o.to) } : {}) }),
      (d) => d.queued.map((r) => `queued ${r.requestId}: ${r.vm} ${r.source} -> ${r.destination} (${r.reason})`).join("\n"),
    ),
  );
  client(
    program
      .command("evacuate <host>")
      .description("drain a host for maintenance (it stays closed to new VMs until released)")
      .option("--pack", "pack VMs onto the fullest hosts that fit (default: stripe)")
      .option("--use-empty", "may use empty hosts")
      .option("--dry-run", "only answer: can this host be drained now?"),
  ).action(
    call(
      "evacuate",
      (o, [host]) => ({ host: host ?? "", placement: o.pack ? "pack" : "stripe", useEmptyHosts: Boolean(o.useEmpty), dryRun: Boolean(o.dryRun) }),
      renderEvacuate,
    ),
  );
  client(
    program.command("release [host]").description("reopen a host after maintenance, or unfreeze a VM with --vm").option("--vm <vm>", "unfreeze this VM"),
  ).action(
    call(
      "release",
      (o, [host]) => (o.vm ? { vm: str(o.vm) } : { host }),
      (d) => JSON.stringify(d),
    ),
  );
  client(program.command("pause").description("stop starting migrations").option("--reason <text>", "shown in status")).action(
    call(
      "pause",
      (o) => (o.reason ? { reason: str(o.reason) } : {}),
      (d) => `paused (${d.reason}); ${d.ongoing} migration(s) still running, ${d.queued} queued`,
    ),
  );
  client(program.command("resume").description("start migrations again")).action(
    call(
      "resume",
      () => ({}),
      () => "resumed",
    ),
  );
  client(
    program
      .command("history")
      .description("finished migrations, host failures, fences, restarts and recovery alerts, newest first")
      .option("--vm <vm>")
      .option("--host <host>")
      .addOption(new Option("--kind <kind>", "only migrations, or only one kind of recovery entry").choices(HISTORY_KINDS).default("all"))
      .option("--limit <n>", "rows", "50"),
  ).action(async function (this: Command) {
    const o = this.optsWithGlobals<Opts>();
    const kind = (str(o.kind) ?? "all") as HistoryKind;
    const filter = { ...(o.vm ? { vm: str(o.vm) } : {}), ...(o.host ? { host: str(o.host) } : {}), limit: Number(o.limit) };
    code = await withClient(o, process.env, async (nc, cfg) => {
      // Two endpoints (history keeps answering MigrationRecord[] as it always did), merged here.
      const migrations = kind === "migration" || kind === "all" ? await callOrchestrator(nc, cfg, "history", filter) : undefined;
      if (migrations && !migrations.ok) {
        io.err(`error ${migrations.error.code}: ${migrations.error.message}`);
        return 1;
      }
      if (kind === "migration") {
        io.out(o.json ? JSON.stringify(migrations, null, 2) : renderHistory(migrations!.data));
        return 0;
      }
      let recovery;
      try {
        recovery = await callOrchestrator(nc, cfg, "recoveryHistory", { ...filter, kind });
      } catch (x) {
        // An orchestrator older than the recovery history, or credentials made before it (the
        // request is then refused by the NATS server): the migrations still show.
        if (!(migrations && x instanceof BallastError && (x.code === "NO_RESPONDERS" || x.code === "TIMEOUT"))) throw x;
        io.err(`note: no recovery history (${x.message}): an orchestrator older than it, or credentials made before it (ballast credentials); migrations only`);
      }
      if (recovery && !recovery.ok) {
        io.err(`error ${recovery.error.code}: ${recovery.error.message}`);
        return 1;
      }
      const items = mergeHistory(migrations?.data ?? [], recovery?.data ?? [], filter.limit);
      io.out(o.json ? JSON.stringify({ ok: true, data: items }, null, 2) : renderTimeline(items));
      return 0;
    });
  });
  client(
    program
      .command("decisions")
      .description("decisions and non-decisions, newest first")
      .option("--vm <vm>")
      .option("--host <host>")
      .option("--limit <n>", "rows", "100"),
  ).action(
    call("decisions", (o) => ({ ...(o.vm ? { vm: str(o.vm) } : {}), ...(o.host ? { host: str(o.host) } : {}), limit: Number(o.limit) }), renderDecisions),
  );
  const explainVm = call("explain", (o, [vm]) => ({ vm: vm ?? "", cycles: Number(o.cycles) }), renderExplain);
  const explainHost = call("explainHost", (o) => ({ host: str(o.host) ?? "", cycles: Number(o.cycles) }), renderExplainHost);
  client(
    program
      .command("explain [vm]")
      .description("why a VM is where it is, and why it did or did not move; with --host, why a host is on or off and whether a cycle would switch it")
      .option("--host <host>", "explain this host's power instead of a VM")
      .option("--cycles <n>", "cycles to look back", "10"),
  ).action(async function (this: Command, ...args: unknown[]) {
    const vm = typeof args[0] === "string" ? args[0] : undefined;
    const host = this.optsWithGlobals<Opts>().host;
    if ((vm === undefined) === (host === undefined)) throw new BallastError("BAD_REQUEST", "explain: give a VM or --host HOST (exactly one of the two)");
    await (host !== undefined ? explainHost : explainVm).apply(this, args);
  });
  client(program.command("snapshot").description("print the live cluster snapshot (input of `plan --snapshot`)")).action(async function (this: Command) {
    code = await withClient(this.optsWithGlobals<ClientOptions>(), process.env, async (nc, cfg) => {
      const reply = await callOrchestrator(nc, cfg, "snapshot", {});
      if (!reply.ok) {
        io.err(`error ${reply.error.code}: ${reply.error.message}`);
        return 1;
      }
      io.out(JSON.stringify(reply.data, null, 2));
      return 0;
    });
  });
  client(program.command("facts <host>").description("the facts held of a host and its VMs (CPU, machine types, networks, storage, migratability)")).action(
    call("facts", (_o, [host]) => ({ host: host ?? "" }), renderFacts),
  );
  client(
    program
      .command("cpu-baseline [hosts...]")
      .description("per group of hosts, the guest CPU every host in it can run (libvirt's hypervisor-cpu-baseline), to define guests that move anywhere"),
  ).action(call("cpuBaseline", (_o, hosts) => (hosts.length > 0 ? { hosts } : {}), renderCpuBaseline));
  client(
    program
      .command("records")
      .description("the VM records kept to restart a dead host's VMs elsewhere: host, restart priority, disks, digest; with --vm, the definition")
      .option("--vm <vm>", "one VM, with its definition (XML, secrets removed)")
      .option("--host <host>", "the VMs recorded on this host"),
  ).action(call("records", (o) => ({ ...(o.vm ? { vm: str(o.vm) } : {}), ...(o.host ? { host: str(o.host) } : {}) }), renderRecords));
  const recovery = program.command("recovery").description("host failure: failed, fenced and recovering hosts, their evidence, fencing and restarts");
  client(recovery.command("status [host]").description("each host's failure state with its evidence, fence attempts, the restarts and the VMs waiting")).action(
    call("recoveryStatus", (_o, [host]) => (host ? { host } : {}), renderRecoveryStatus),
  );
  client(
    program
      .command("recover <host>")
      .description("restart a failed host's VMs elsewhere once you have made sure it is off (no power driver, or fencing failed)")
      .requiredOption("--confirm-fenced", "you confirm the host is off (power cut, BMC checked by hand): its VMs may start elsewhere"),
  ).action(call("recover", (_o, [host]) => ({ host: host ?? "", confirmFenced: true as const }), renderRecover));
  const power = program.command("power").description("power management: switchable hosts' power state, switch a host on or off");
  client(power.command("status [host]").description("each switchable host's power state, its driver's last answer, and the newest driver calls")).action(
    call("powerStatus", (_o, [host]) => (host ? { host } : {}), renderPowerStatus),
  );
  client(power.command("on <host>").description("switch a host on (automation manual/partial: proposed for approve)")).action(
    call("powerOn", (_o, [host]) => ({ host: host ?? "" }), renderPowerCommand),
  );
  client(
    power
      .command("off <host>")
      .description("switch an empty host off with a clean shutdown (automation manual/partial: proposed for approve)")
      .option("--force", "cut the power instead of a clean shutdown"),
  ).action(call("powerOff", (o, [host]) => ({ host: host ?? "", force: Boolean(o.force) }), renderPowerCommand));
  client(program.command("version").description("orchestrator version")).action(
    call(
      "version",
      () => ({}),
      (d) => `${d.name} ${d.version} (${d.instance}, node ${d.node})`,
    ),
  );

  program
    .command("schema <what>")
    .description("print the JSON Schema of a snapshot file, a policy file, or a plan (with every decision code)")
    .action((what: string) => {
      const schemas: Record<string, z.ZodType> = { snapshot: ClusterSnapshot, policy: Policy, plan: Plan };
      const s = schemas[what];
      if (!s) throw new BallastError("BAD_REQUEST", `unknown schema ${what}; choose one of: ${Object.keys(schemas).join(", ")}`);
      io.out(JSON.stringify(z.toJSONSchema(s, { io: "input", unrepresentable: "any" }), null, 2));
    });

  program
    .command("deploy")
    .description("install or upgrade the agent on the hypervisors of an inventory, over SSH (see deploy/README.md)")
    .requiredOption("-i, --inventory <file>", "inventory file (YAML); see deploy/installer/inventory.example.yaml")
    .option("--dry-run", "connect and report what would change, change nothing")
    .option("--parallel <n>", "hosts at once", "4")
    .option(
      "--host <hosts>",
      "only these host ids, repeatable or comma-separated",
      (v: string, prev: string[] = []) => [...prev, ...v.split(",").filter(Boolean)],
      [],
    )
    .option("--json", "print the report as JSON")
    .action(async (o: { inventory: string; dryRun?: boolean; parallel: string; host: string[]; json?: boolean }) => {
      const { runDeploy } = await import("../deploy/installer/index.js");
      const parallel = Number(o.parallel);
      if (!Number.isInteger(parallel) || parallel < 1) throw new BallastError("BAD_REQUEST", `--parallel must be a positive integer, got ${o.parallel}`);
      code = await runDeploy(
        { inventory: o.inventory, dryRun: Boolean(o.dryRun), parallel, ...(o.host.length ? { hosts: o.host } : {}), json: Boolean(o.json) },
        io,
      );
    });

  const many = (v: string, prev: string[] = []) => [
    ...prev,
    ...v
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean),
  ];
  program
    .command("credentials")
    .description("generate NATS nkey identities and the nats-server authorization file (see deploy/nats/README.md)")
    .requiredOption("--out <dir>", "directory for the seed files (created 0700; seeds 0600)")
    .option("--auth-file <file>", "authorization file to write (default: <out>/authorization.conf)")
    .option("--agent <hosts>", "agent host id(s), repeatable or comma-separated", many, [])
    .option("--orchestrator <names>", "orchestrator identities (default: main)", many, [])
    .option("--operator <names>", "operator accounts (may migrate, evacuate, pause ...)", many, [])
    .option("--readonly <names>", "read-only operator accounts (status, plan, history ...)", many, [])
    .option("--rotate", "replace existing seeds instead of keeping them")
    .action(
      async (o: { out: string; authFile?: string; agent: string[]; orchestrator: string[]; operator: string[]; readonly: string[]; rotate?: boolean }) => {
        const { generateCredentials } = await import("../deploy/tools/credentials.js");
        const r = generateCredentials({
          outDir: o.out,
          ...(o.authFile ? { authorizationFile: o.authFile } : {}),
          agents: o.agent,
          operators: o.operator,
          readonly: o.readonly,
          ...(o.orchestrator.length ? { orchestrators: o.orchestrator } : {}),
          rotate: Boolean(o.rotate),
        });
        io.out(
          table(
            ["ROLE", "NAME", "PUBLIC KEY", "SEED FILE", "INBOX PREFIX"],
            r.identities.map((i) => [i.role, i.name, i.publicKey, i.seedFile, i.inboxPrefix]),
          ),
        );
        io.out("set each config's nats.inbox_prefix to its INBOX PREFIX (nats CLI: --inbox-prefix); answers below any other prefix are refused");
        io.out(
          `authorization: ${r.authorizationFile}; created ${r.created.length}, kept ${r.reused.length}${r.stale.length ? `, stale (not deleted): ${r.stale.join(", ")}` : ""}`,
        );
      },
    );

  const list = (v: string, prev: string[] = []) => [
    ...prev,
    ...v
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean),
  ];
  const sim = program
    .command("sim")
    .description("replay a workload trace through the production planner on the CloudSim data-centre model (see docs/simulator.md)");
  const append = (v: string, prev: string[] = []) => [...prev, v];
  // The options a run and a sweep share: which trace, how it is timed, the data centre.
  const simInput = (c: Command): Command =>
    c
      .requiredOption("--dir <folder>", "trace folder: a PlanetLab day, or per-VM `cpu mem` files; repeat for days in order (one continuous run)", append)
      .option("--common-vms", "with several --dir: keep only the VMs present in every folder (otherwise differing sets are an error)")
      .addOption(new Option("--format <format>", "trace format").choices(["planetlab", "cpu-mem"]).default("planetlab"))
      .addOption(new Option("--variant <v>", "CloudSim variant of the baselines").choices(["303", "prefix"]).default("prefix"))
      .option("--step <seconds>", "decision interval: the policy runs every <seconds>", "300")
      .option("--sample-interval <seconds>", "spacing of the trace's samples (PlanetLab and GCD: 300)", "300")
      .option("--remove-idle", "CloudSim's rule: a VM whose CPU demand is exactly 0 is finished and removed for good (default for planetlab)")
      .option("--no-remove-idle", "keep VMs at 0 % CPU (default for cpu-mem: they still hold memory)")
      .option("--allow-unplaced", "run even if some VMs fit on no host at t = 0 (they are counted and not simulated; otherwise an error)")
      .option("--hosts <n>", "number of hosts", "800")
      .option("--host-types <list>", "host types, host i gets type i mod n (g4, g5)", list)
      .option("--vm-types <list>", "VM types as MIPS:RAM_MB, comma-separated", list)
      .option("--policy-file <file>", "Ballast policy keys (YAML/JSON) on top of the simulator's mapping of the defaults")
      .addOption(
        new Option("--boot-model <model>", "instant: CloudSim's free switching (an idle host is off at 0 W); boot: hosts take --boot-time to come on")
          .choices(["instant", "boot"])
          .default("instant"),
      )
      .option("--boot-time <seconds>", "boot model: power-on until the host can receive VMs", "300")
      .option("--shutdown-time <seconds>", "boot model: power-off until the host draws nothing", "30")
      .option("--json", "print the metrics as JSON");
  interface SimInputOpts {
    dir: string[];
    commonVms?: boolean;
    format: "planetlab" | "cpu-mem";
    variant: "303" | "prefix";
    step: string;
    sampleInterval: string;
    removeIdle?: boolean;
    allowUnplaced?: boolean;
    hosts: string;
    hostTypes?: string[];
    vmTypes?: string[];
    policyFile?: string;
    bootModel: "instant" | "boot";
    bootTime: string;
    shutdownTime: string;
    json?: boolean;
  }
  const simRunOptions = async (o: SimInputOpts) => {
    for (const d of o.dir)
      if (!existsSync(d)) throw new BallastError("BAD_REQUEST", `trace folder ${d} does not exist (PlanetLab days and the GCD set are in ../shared/data)`);
    const { readConfigFile } = await import("../shared/config/load-config.js");
    const step = Number(o.step);
    const sampleInterval = Number(o.sampleInterval);
    const hosts = Number(o.hosts);
    if (!(step > 0) || !(sampleInterval > 0) || !Number.isInteger(hosts) || hosts < 1)
      throw new BallastError("BAD_REQUEST", "--step and --sample-interval must be > 0 and --hosts a positive integer");
    const bootTimeS = Number(o.bootTime);
    const shutdownTimeS = Number(o.shutdownTime);
    if (!(bootTimeS >= 0) || !(shutdownTimeS >= 0) || !Number.isFinite(bootTimeS) || !Number.isFinite(shutdownTimeS))
      throw new BallastError("BAD_REQUEST", "--boot-time and --shutdown-time must be numbers of seconds >= 0");
    return {
      dir: o.dir[0]!,
      moreDirs: o.dir.slice(1),
      ...(o.commonVms ? { commonVms: true } : {}),
      format: o.format,
      variant: o.variant,
      step,
      sampleInterval,
      ...(o.removeIdle !== undefined ? { removeIdleVms: o.removeIdle } : {}),
      ...(o.allowUnplaced ? { allowUnplaced: true } : {}),
      hosts,
      ...(o.hostTypes ? { hostTypes: o.hostTypes } : {}),
      ...(o.vmTypes ? { vmTypes: o.vmTypes } : {}),
      ...(o.policyFile ? { ballastPolicy: readConfigFile(o.policyFile) } : {}),
      bootModel: o.bootModel,
      ...(o.bootModel === "boot" ? { bootTimeS, shutdownTimeS } : {}),
    };
  };
  // Bad input to the simulator (trace lengths, unplaced VMs, step vs samples) is the caller's to fix.
  const simInputError = async <T>(f: () => T): Promise<T> => {
    const { EngineError, SizingError, ReportError } = await import("../sim/index.js");
    const { TraceParseError } = await import("../sim/traces/parse.js");
    try {
      return f();
    } catch (e) {
      if (e instanceof EngineError || e instanceof TraceParseError || e instanceof SizingError || e instanceof ReportError)
        throw new BallastError("BAD_REQUEST", e.message);
      throw e;
    }
  };
  simInput(
    sim
      .command("run", { isDefault: true })
      .description("simulate one trace (one folder, or several days as one run) with one policy")
      .option("--policy <name>", "ballast | thr-mmt-0.8 | lr-mmt-1.2 | iqr-mmt-1.5 | mad-mmt-2.5 (+mem: two-resource)", "ballast"),
  ).action(async (o: SimInputOpts & { policy: string }) => {
    const { runSim, formatRun, toMetricsJson } = await import("../sim/index.js");
    const base = await simRunOptions(o);
    const r = await simInputError(() => runSim({ ...base, policy: o.policy }));
    io.out(o.json ? toMetricsJson([r]).trimEnd() : formatRun(r));
  });
  simInput(
    sim
      .command("sweep")
      .description("run policies under several VM sizings of one trace and print the per-sizing table (see docs/simulator.md)")
      .option("--policies <list>", "policies to run on every sizing", list)
      .option(
        "--sizings <list>",
        "file-order (CloudSim's four types by file order), own-trace (from each VM's peaks), fewest-hosts, own-trace-fewest-hosts (default: all)",
        list,
      )
      .option("--baseline <name>", "also print ratios to this policy, run by run, and the goals held"),
  ).action(async (o: SimInputOpts & { policies?: string[]; sizings?: string[]; baseline?: string }) => {
    const { runSweep, isSizing, SIZINGS, toMetricsJson } = await import("../sim/index.js");
    const sizings = o.sizings ?? [...SIZINGS];
    const bad = sizings.filter((s) => !isSizing(s));
    if (bad.length > 0) throw new BallastError("BAD_REQUEST", `unknown sizing ${bad.join(", ")}; known: ${SIZINGS.join(", ")}`);
    const base = await simRunOptions(o);
    const r = await simInputError(() =>
      runSweep({
        ...base,
        policies: o.policies ?? ["ballast", o.format === "cpu-mem" ? "thr-mmt-0.8+mem" : "lr-mmt-1.2"],
        sizings: sizings.filter(isSizing),
        ...(o.baseline ? { baseline: o.baseline } : {}),
        log: io.err,
      }),
    );
    io.out(o.json ? toMetricsJson(r.runs).trimEnd() : r.table);
  });
  sim
    .command("report <metrics...>")
    .description("render a table and SVG plots from metrics JSON files (`sim run --json > m.json`)")
    .option("--out <dir>", "folder for the plots", "sim-report")
    .option("--baseline <name>", "also show every run's ratios to this policy on the same run (day), and on how many runs each goal holds")
    .action(async (metrics: string[], o: { out: string; baseline?: string }) => {
      const { renderReport } = await import("../sim/index.js");
      const r = await simInputError(() => renderReport(metrics, o.out, o.baseline ? { baseline: o.baseline } : {}));
      io.out(r.table);
      io.out(`plots: ${r.files.join(", ")}`);
    });

  program
    .command("demo")
    .description("start nats-server, simulated hypervisors (one overloaded) and the orchestrator; show what happens")
    .option("--follow", "keep running until Ctrl-C")
    .option("--sim", "use simulated hypervisors even where the real libvirt lab could run")
    .option("--fast", "shorter intervals (used by tests)")
    .option("--dashboard [listen]", "serve the web dashboard (default 127.0.0.1:9470; port 0 picks a free one)")
    .action(async (o: { follow?: boolean; sim?: boolean; fast?: boolean; dashboard?: boolean | string }) => {
      const { runDemo } = await import("./demo.js");
      const dashboard = o.dashboard === undefined ? undefined : o.dashboard === true ? "127.0.0.1:9470" : o.dashboard;
      code = await runDemo({ follow: Boolean(o.follow), forceSim: Boolean(o.sim), fast: Boolean(o.fast), out: io.out, ...(dashboard ? { dashboard } : {}) });
    });

  program
    .command("lab <action> [args...]")
    .description("the real three-hypervisor libvirt lab: up | down | status | start-guest | migrate | ... (root; `ballast lab help`)")
    .allowUnknownOption()
    .helpOption(false)
    .action(async (action: string, args: string[]) => {
      const { runLab } = await import("./lab.js");
      code = await runLab(action, args);
    });

  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    io.err(`ballast: ${describeError(e)}`);
    return e instanceof BallastError && e.code === "BAD_REQUEST" ? 2 : 1;
  }
  return code;
}
