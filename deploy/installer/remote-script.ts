import type { HostTarget } from "./inventory.js";
import { shellJoin, shellQuote as q } from "./shell-quote.js";
import { SYSUSERS_FILE } from "./sysusers.js";

// The shell text of every remote step, built from validated values, every value quoted.
// Pure functions: tests read the scripts, and run them with a local `sh` against temp dirs.

export interface RemoteLayout {
  prefix: string;
  releases: string;
  current: string;
  configDir: string;
  config: string;
  unitDir: string;
  unit: string;
  sysusers: string;
}

export function layout(t: HostTarget): RemoteLayout {
  const { prefix, config_dir: configDir, unit_dir: unitDir } = t.paths;
  return {
    prefix,
    releases: `${prefix}/releases`,
    current: `${prefix}/current`,
    configDir,
    config: `${configDir}/agent.yaml`,
    unitDir,
    unit: `${unitDir}/${t.unitName}`,
    sysusers: `${t.paths.sysusers_dir}/${SYSUSERS_FILE}`,
  };
}

/** Runs a script as root: through `sudo -n` (never prompts) or directly when the SSH user is root. */
export function asRoot(t: HostTarget, script: string): string {
  return t.become === "sudo" ? `sudo -n -- sh -c ${q(script)}` : `sh -c ${q(script)}`;
}

/** Runs a script as the SSH user itself (temp files it then reads or writes with SFTP). */
export function asUser(script: string): string {
  return `sh -c ${q(script)}`;
}

export const BACKUP_SUFFIX = ".ballast-prev";

/** One line per fact, key=value; parsed by parseProbe. Runs as root, changes nothing. */
export function probeScript(t: HostTarget, releaseSha: string, serviceUser: string): string {
  const l = layout(t);
  const sc = q(t.systemctl);
  const lines = [
    `echo "uid=$(id -u)"`,
    `if command -v ${q(t.node)} >/dev/null 2>&1; then echo "node=$(${q(t.node)} --version 2>/dev/null | head -n 1)"; else echo "node="; fi`,
    `echo "arch=$(uname -m 2>/dev/null)"`,
    `echo "libc=$(getconf GNU_LIBC_VERSION 2>/dev/null)"`,
    // The runtime the installed release carries (none: it runs on the host's node).
    `rt=${q(`${l.current}/runtime/bin/node`)}; if [ -x "$rt" ]; then v=$("$rt" --version 2>/dev/null | head -n 1); echo "current_runtime=\${v:-broken}"; else echo "current_runtime="; fi`,
    t.driver === "virsh"
      ? `if command -v ${q(t.virshBinary)} >/dev/null 2>&1; then echo "virsh=$(command -v ${q(t.virshBinary)})"; else echo "virsh="; fi`
      : `echo "virsh=not-needed"`,
    `for c in tar sha256sum mktemp readlink install ln mv cut head; do command -v "$c" >/dev/null 2>&1 || echo "missing=$c"; done`,
    `command -v ${sc} >/dev/null 2>&1 || echo "missing=systemctl"`,
    `if getent group ${q(t.serviceGroup)} >/dev/null 2>&1; then echo "group=yes"; else echo "group=no"; fi`,
    `if getent passwd ${q(serviceUser)} >/dev/null 2>&1; then echo "user=yes"; else echo "user=no"; fi`,
    `if command -v ${q(t.sysusers)} >/dev/null 2>&1; then echo "sysusers_cmd=yes"; else echo "sysusers_cmd=no"; fi`,
    `if [ -f ${q(l.sysusers)} ]; then echo "sysusers=$(sha256sum < ${q(l.sysusers)} | cut -d ' ' -f 1)"; else echo "sysusers="; fi`,
    `echo "current=$(readlink ${q(l.current)} 2>/dev/null)"`,
    `if [ -d ${q(`${l.releases}/${releaseSha}`)} ]; then echo "release=yes"; else echo "release=no"; fi`,
    `if [ -f ${q(l.config)} ]; then echo "config=$(sha256sum < ${q(l.config)} | cut -d ' ' -f 1)"; echo "config_meta=$(stat -c %a:%G ${q(l.config)})"; else echo "config="; fi`,
    `if [ -f ${q(l.unit)} ]; then echo "unit=$(sha256sum < ${q(l.unit)} | cut -d ' ' -f 1)"; else echo "unit="; fi`,
    ...(t.seed
      ? [
          `if [ -f ${q(t.seed.path)} ]; then echo "seed=$(sha256sum < ${q(t.seed.path)} | cut -d ' ' -f 1)"; echo "seed_meta=$(stat -c %a:%U:%G ${q(t.seed.path)})"; else echo "seed="; fi`,
        ]
      : []),
    `echo "active=$(${sc} is-active ${q(t.unitName)} 2>/dev/null | head -n 1)"`,
    `echo "enabled=$(${sc} is-enabled ${q(t.unitName)} 2>/dev/null | head -n 1)"`,
  ];
  return lines.join("\n");
}

/** Makes a private temp dir for this run, owned by the SSH user (uploads go there over SFTP). */
export function mktempScript(): string {
  return `mktemp -d "\${TMPDIR:-/tmp}/ballast-deploy.XXXXXXXX"`;
}

export function removeTempScript(dir: string): string {
  return `rm -rf -- ${q(dir)}`;
}

/**
 * Checks the uploaded tarball, extracts it into a temp dir beside the final one, runs the Node
 * runtime it carries (runtime/bin/node; it must start on this host, or the release is not
 * installed), marks it, and renames it into place: <prefix>/releases/<sha> exists only complete.
 * Prints "runtime=<version> <platform>-<arch>" when the release carries a runtime.
 */
export function installReleaseScript(t: HostTarget, sha: string, tarball: string): string {
  const l = layout(t);
  const final = `${l.releases}/${sha}`;
  return [
    "set -eu",
    "umask 022",
    `mkdir -p ${q(l.releases)}`,
    `printf '%s  %s\\n' ${q(sha)} ${q(tarball)} | sha256sum -c --quiet - || { echo "uploaded tarball does not match sha256 ${sha}" >&2; exit 1; }`,
    `tmp=$(mktemp -d ${q(`${l.releases}/.incoming-${sha.slice(0, 12)}.`)}XXXXXX)`,
    `trap 'rm -rf -- "$tmp"' EXIT`,
    `tar -xzf ${q(tarball)} -C "$tmp" --no-same-owner`,
    `if [ -e "$tmp/runtime/bin/node" ]; then`,
    `  if ! v=$("$tmp/runtime/bin/node" -p 'process.version + " " + process.platform + "-" + process.arch' 2>&1); then`,
    `    printf '%s\\n' "$v" >&2`,
    `    echo "the Node runtime of release ${sha.slice(0, 12)} does not run on this host ($(uname -m)): $(printf '%s\\n' "$v" | head -n 1)" >&2; exit 1`,
    `  fi`,
    `  echo "runtime=$v"`,
    `fi`,
    `printf '%s\\n' ${q(sha)} > "$tmp/.ballast-release"`,
    `chmod 0755 "$tmp"`,
    `if [ -d ${q(final)} ]; then exit 0; fi`,
    `mv -T -- "$tmp" ${q(final)}`,
  ].join("\n");
}

/** Installs one file atomically (temp name in the same dir, then rename), keeping a backup of the old one. */
export function writeFileScript(
  src: string,
  dest: string,
  mode: string,
  owner: string,
  group: string,
  opts: { makeDir?: { mode: string; group: string } } = {},
): string {
  const dir = dest.slice(0, dest.lastIndexOf("/")) || "/";
  const name = dest.slice(dest.lastIndexOf("/") + 1);
  const tmp = `${dir}/.${name}.new`;
  return [
    "set -eu",
    opts.makeDir
      ? `[ -d ${q(dir)} ] || install -d -m ${q(opts.makeDir.mode)} -o root -g ${q(opts.makeDir.group)} ${q(dir)}`
      : `[ -d ${q(dir)} ] || install -d -m 0755 ${q(dir)}`,
    `if [ -f ${q(dest)} ]; then cp -p -- ${q(dest)} ${q(dest + BACKUP_SUFFIX)}; else rm -f -- ${q(dest + BACKUP_SUFFIX)}; fi`,
    `install -m ${q(mode)} -o ${q(owner)} -g ${q(group)} ${q(src)} ${q(tmp)}`,
    `mv -f -- ${q(tmp)} ${q(dest)}`,
  ].join("\n");
}

/** Creates what the installed sysusers file declares and is missing; never changes an existing user. */
export function sysusersScript(t: HostTarget): string {
  return shellJoin([t.sysusers, layout(t).sysusers]);
}

/** Puts back the file saved by writeFileScript, or removes it when there was none before. */
export function restoreFileScript(dest: string, existedBefore: boolean): string {
  return existedBefore ? `set -eu\nmv -f -- ${q(dest + BACKUP_SUFFIX)} ${q(dest)}` : `rm -f -- ${q(dest)}`;
}

export function dropBackupsScript(files: string[]): string {
  return `rm -f -- ${files.map((f) => q(f + BACKUP_SUFFIX)).join(" ")}`;
}

/** Points <prefix>/current at releases/<sha> with one rename (never a moment without it). */
export function switchScript(t: HostTarget, sha: string): string {
  const l = layout(t);
  const tmp = `${l.prefix}/.current.new`;
  return ["set -eu", `[ -d ${q(`${l.releases}/${sha}`)} ]`, `ln -sfn ${q(`releases/${sha}`)} ${q(tmp)}`, `mv -T -f -- ${q(tmp)} ${q(l.current)}`].join("\n");
}

export function removeCurrentScript(t: HostTarget): string {
  return `rm -f -- ${q(layout(t).current)}`;
}

export function systemctlScript(t: HostTarget, verb: "daemon-reload" | "enable" | "disable" | "restart" | "start" | "stop"): string {
  return verb === "daemon-reload" ? shellJoin([t.systemctl, verb]) : shellJoin([t.systemctl, verb, t.unitName]);
}

/** Removes release directories beyond the newest `keep` (never the ones named in `protect`); prints what it removed. */
export function pruneScript(t: HostTarget, protect: string[], keep: number): string {
  const l = layout(t);
  const excl = protect.map((p) => `-e ${q(p)}`).join(" ");
  return [
    "set -eu",
    `cd ${q(l.releases)}`,
    `ls -1t | grep -E '^[0-9a-f]{64}$' | { grep -v -x ${excl} || true; } | tail -n +${keep + 1} | while read -r d; do rm -rf -- "$d"; echo "$d"; done`,
  ].join("\n");
}
