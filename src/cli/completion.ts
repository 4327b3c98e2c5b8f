/**
 * Shell completion scripts generated from the commander tree, so they never drift from the real commands and flags:
 * bash (complete -F), zsh (native #compdef with _arguments, descriptions), fish (per-command conditions, descriptions,
 * files only where a command takes a file).
 */
import type { Command } from "commander";
import { HELP_TOPICS } from "./help-topics.ts";

export type Shell = "bash" | "zsh" | "fish";
export const SHELLS: Shell[] = ["bash", "zsh", "fish"];

/** What a value completes to: nothing in particular, a file, a directory, one of a list, or what the broker lists (`jit __complete`). */
type ValueKind = { kind: "text" } | { kind: "file" } | { kind: "dir" } | { kind: "choice"; values: string[] } | { kind: "dynamic"; source: string };

interface Flag {
  long: string;
  short?: string;
  description: string;
  /** Undefined for a switch (--json); else what its value completes to. */
  value?: ValueKind;
}

interface Node {
  path: string[];
  description: string;
  subcommands: Array<{ name: string; description: string }>;
  flags: Flag[];
  /** The positional arguments (not counting subcommands), in order; `rest` when the last one takes many. */
  args: Array<{ name: string; value: ValueKind; rest: boolean }>;
}

/** Options whose value is a path; everything else completes from its choices or not at all. */
const FILE_OPTIONS = new Set(["--file", "--config", "--merge"]);
const DIR_OPTIONS = new Set(["--data-dir"]);
/** Positional arguments that are paths, by command path and argument name. */
const FILE_ARGS = new Set(["policy check:file"]);
/** Positional arguments whose values the broker knows, by command path and argument name → `jit __complete KIND`. */
const DYNAMIC_ARGS: Record<string, string> = {
  "request:datasets": "datasets",
  "tables:dataset": "datasets",
  "describe:table": "tables",
  "request show:id": "requests",
  "request wait:id": "requests",
  "approve:id": "requests",
  "deny:id": "requests",
  "revoke:id": "grants",
};

const GLOBAL_FLAGS: Flag[] = [
  { long: "--json", description: "machine-readable output on stdout (optionally: only these fields)" },
  { long: "--jq", description: "filter the JSON output with a jq expression", value: { kind: "text" } },
  { long: "--broker", description: "broker URL (overrides JIT_BROKER and the config file)", value: { kind: "text" } },
  { long: "--help", short: "-h", description: "show help" },
];

function optionValue(long: string, choices: string[] | undefined): ValueKind {
  if (choices) return { kind: "choice", values: choices };
  if (FILE_OPTIONS.has(long)) return { kind: "file" };
  if (DIR_OPTIONS.has(long)) return { kind: "dir" };
  return { kind: "text" };
}

function walk(cmd: Command, path: string[], out: Node[]): void {
  const flags: Flag[] = cmd.options
    .filter((o) => o.long && !o.hidden)
    .map((o) => ({
      long: o.long!,
      short: o.short,
      description: o.description,
      value: o.required || o.optional ? optionValue(o.long!, o.argChoices) : undefined,
    }));
  const globals = GLOBAL_FLAGS;
  const seen = new Set(flags.map((f) => f.long));
  const args = cmd.registeredArguments.map((a) => {
    const key = `${path.join(" ")}:${a.name()}`;
    let value: ValueKind = a.argChoices ? { kind: "choice", values: a.argChoices } : FILE_ARGS.has(key) ? { kind: "file" }
      : DYNAMIC_ARGS[key] ? { kind: "dynamic", source: DYNAMIC_ARGS[key] } : { kind: "text" };
    // `jit help TOPIC`: the topics, then the commands.
    if (key === "help:topic") value = { kind: "choice", values: [...Object.keys(HELP_TOPICS), ...cmd.parent!.commands.map((c) => c.name()).filter((n) => n !== "help")] };
    return { name: a.name(), value, rest: a.variadic };
  });
  // Hidden commands (__complete) are for the scripts, not to be offered.
  const visible = cmd.commands.filter((c) => !(c as unknown as { _hidden: boolean })._hidden);
  out.push({
    path,
    description: cmd.description(),
    subcommands: visible.map((c) => ({ name: c.name(), description: c.description() })),
    flags: [...flags, ...globals.filter((g) => !seen.has(g.long))],
    args,
  });
  for (const c of visible) walk(c, [...path, c.name()], out);
}

function nodes(program: Command): Node[] {
  const out: Node[] = [];
  walk(program, [], out);
  return out;
}

const words = (flags: Flag[]) => flags.flatMap((f) => (f.short ? [f.short, f.long] : [f.long]));

function bashValue(v: ValueKind): string {
  if (v.kind === "file") return `_jit_files; return ;;`;
  if (v.kind === "dir") return `_jit_dirs; return ;;`;
  if (v.kind === "choice") return `COMPREPLY=($(compgen -W "${v.values.join(" ")}" -- "$cur")); return ;;`;
  if (v.kind === "dynamic") return `COMPREPLY=($(compgen -W "$(_jit_dynamic ${v.source})" -- "$cur")); return ;;`;
  return "return ;;"; // a value is expected: offer no commands or flags in its place
}

function bash(program: Command): string {
  const all = nodes(program);
  const cases = all.map((n) => {
    const valueCases = n.flags
      .filter((f) => f.value)
      .map((f) => `        ${[f.short, f.long].filter(Boolean).join("|")}) ${bashValue(f.value!)}`)
      .join("\n");
    const firstArg = n.args[0];
    // Only a command's first positional argument has a kind worth completing (policy check FILE, completion SHELL).
    const dynamic = firstArg?.value.kind === "dynamic" ? firstArg.value.source : undefined;
    // `jit request <Tab>`: its subcommands and the datasets the broker lists, side by side.
    const positional = n.subcommands.length > 0 && dynamic
      ? `      if [[ "$cur" != -* ]]; then COMPREPLY=($(compgen -W "${n.subcommands.map((s) => s.name).join(" ")} $(_jit_dynamic ${dynamic})" -- "$cur")); return; fi\n`
      : n.subcommands.length === 0 && firstArg && firstArg.value.kind !== "text"
      ? `      if [[ "$cur" != -* ]]; then ${bashValue(firstArg.value).replace(/ return ;;$/, " return; fi").replace(/^return ;;$/, "return; fi")}\n`
      : "";
    return `    "${n.path.join(" ")}")
      case "$prev" in
${valueCases}
      esac
${positional}      COMPREPLY=($(compgen -W "${[...n.subcommands.map((s) => s.name), ...words(n.flags)].join(" ")}" -- "$cur")); return ;;`;
  });
  return `# bash completion for jit (generated by: jit completion bash)
_jit_files() { compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur")); }
_jit_dirs() { compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -d -- "$cur")); }
# Values only the broker knows (datasets, tables, request and grant ids): jit __complete answers within a second, cached 60 s.
_jit_dynamic() { command jit __complete "$1" "$cur" 2>/dev/null | cut -f1; }
_jit() {
  local cur prev path="" w i
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in -*) continue ;; esac
    case " $(_jit_subcommands "$path") " in *" $w "*) path="\${path:+$path }$w" ;; esac
  done
  case "$path" in
${cases.join("\n")}
  esac
}
_jit_subcommands() {
  case "$1" in
${all.map((n) => `    "${n.path.join(" ")}") echo "${n.subcommands.map((s) => s.name).join(" ")}" ;;`).join("\n")}
  esac
}
complete -F _jit jit
`;
}

/** Text safe inside a zsh single-quoted _arguments spec's [description] or a _describe entry. */
function zshText(s: string): string {
  return s.replaceAll("'", "'\\''").replaceAll("[", "(").replaceAll("]", ")").replaceAll(":", "\\:");
}

function zshAction(v: ValueKind | undefined, name: string): string {
  if (!v) return "";
  if (v.kind === "file") return `:${name}:_files`;
  if (v.kind === "dir") return `:${name}:_files -/`;
  if (v.kind === "choice") return `:${name}:(${v.values.join(" ")})`;
  if (v.kind === "dynamic") return `:${name}:{_jit_dynamic ${v.source}}`;
  return `:${name}: `;
}

function zshFunctionName(path: string[]): string {
  return ["_jit", ...path].join("_").replaceAll("-", "_");
}

function zsh(program: Command): string {
  const fns = nodes(program).map((n) => {
    const specs = n.flags.map((f) => {
      const action = zshAction(f.value, f.long.slice(2));
      const desc = `[${zshText(f.description)}]`;
      return f.short ? `'(${f.short} ${f.long})'{${f.short},${f.long}}'${desc}${action}'` : `'${f.long}${desc}${action}'`;
    });
    const name = zshFunctionName(n.path);
    if (n.subcommands.length > 0) {
      const entries = n.subcommands.map((s) => `'${zshText(s.name)}:${zshText(s.description).replaceAll("\\:", ":")}'`);
      const dispatch = n.subcommands.map((s) => `      ${s.name}) ${zshFunctionName([...n.path, s.name])} ;;`).join("\n");
      return `${name}() {
  local curcontext="$curcontext" state line ret=1
  _arguments -C -s \\
    ${[...specs, "'1: :->command'", "'*:: :->args'"].join(" \\\n    ")} && ret=0
  case $state in
    command)
      local -a commands
      commands=(${entries.join(" ")})
      _describe -t commands '${["jit", ...n.path].join(" ")} command' commands && ret=0${n.args[0]?.value.kind === "dynamic" ? `\n      _jit_dynamic ${(n.args[0].value as { source: string }).source} && ret=0` : ""} ;;
    args)
      curcontext="\${curcontext%:*:*}:jit-$words[1]:"
      case $words[1] in
${dispatch}
      esac ;;
  esac
  return ret
}`;
    }
    const argSpecs = n.args.map((a, i) => (a.rest ? `'*${zshAction(a.value, a.name)}'` : `'${i + 1}${zshAction(a.value, a.name)}'`));
    return `${name}() {
  _arguments -s \\
    ${[...specs, ...argSpecs].join(" \\\n    ")}
}`;
  });
  return `#compdef jit
# zsh completion for jit (generated by: jit completion zsh). Put it in a directory on $fpath as _jit.

# Values only the broker knows (datasets, tables, request and grant ids), with descriptions: jit __complete answers
# "value<TAB>description" lines within a second, cached 60 s.
_jit_dynamic() {
  local -a items
  local line
  for line in \${(f)"$(command jit __complete $1 "$PREFIX" 2>/dev/null)"}; do
    items+=("\${\${line%%$'\\t'*}//:/\\\\:}:\${line#*$'\\t'}")
  done
  _describe -t $1 $1 items
}

${fns.join("\n\n")}

if [ "$funcstack[1]" = "_jit" ]; then
  _jit "$@"
else
  compdef _jit jit
fi
`;
}

/** Text inside a fish single-quoted string. */
const fishText = (s: string) => s.replaceAll("\\", "\\\\").replaceAll("'", "\\'");

function fishValue(v: ValueKind | undefined): string {
  if (!v) return "";
  if (v.kind === "file") return " -r -F";
  if (v.kind === "dir") return " -x -a '(__fish_complete_directories)'";
  if (v.kind === "choice") return ` -x -a '${v.values.join(" ")}'`;
  return " -x";
}

function fish(program: Command): string {
  const all = nodes(program);
  const lines = [
    "# fish completion for jit (generated by: jit completion fish)",
    "# The command path typed so far (\"audit list\"), skipping flags and their values.",
    "function __jit_children",
    "    switch \"$argv[1]\"",
    ...all.filter((n) => n.subcommands.length > 0).flatMap((n) => [`        case '${n.path.join(" ")}'`, `            printf '%s\\n' ${n.subcommands.map((s) => s.name).join(" ")}`]),
    "    end",
    "end",
    "function __jit_path",
    "    set -l path ''",
    "    for w in (commandline -opc)[2..-1]",
    "        if contains -- $w (__jit_children $path)",
    "            set path (string trim -- \"$path $w\")",
    "        end",
    "    end",
    "    echo $path",
    "end",
    "# Values only the broker knows (datasets, tables, request and grant ids): jit __complete answers within a second, cached 60 s.",
    "function __jit_dynamic",
    "    command jit __complete $argv[1] (commandline -ct) 2>/dev/null",
    "end",
  ];
  for (const n of all) {
    const cond = `-n 'test "$(__jit_path)" = "${n.path.join(" ")}"'`;
    const takesFiles = n.subcommands.length === 0 && n.args.some((a) => a.value.kind === "file");
    // Files only where the command takes a file argument; elsewhere a bare word completes to nothing, not to ./*.
    if (!takesFiles) lines.push(`complete -c jit ${cond} -f`);
    for (const s of n.subcommands) lines.push(`complete -c jit ${cond} -f -a ${s.name} -d '${fishText(s.description)}'`);
    const first = n.args[0];
    if (n.subcommands.length === 0 && first?.value.kind === "choice") lines.push(`complete -c jit ${cond} -f -a '${first.value.values.join(" ")}'`);
    if (first?.value.kind === "dynamic") lines.push(`complete -c jit ${cond} -f -a '(__jit_dynamic ${first.value.source})'`);
    for (const f of n.flags) {
      lines.push(`complete -c jit ${cond}${f.short ? ` -s ${f.short.slice(1)}` : ""} -l ${f.long.slice(2)}${fishValue(f.value)} -d '${fishText(f.description)}'`);
    }
  }
  return `${lines.join("\n")}\n`;
}

/** The completion script for a shell. */
export function completionScript(program: Command, shell: Shell): string {
  return shell === "bash" ? bash(program) : shell === "zsh" ? zsh(program) : fish(program);
}

/** Where each shell's script ships in the repository. */
export const COMPLETION_FILES: Record<Shell, string> = { bash: "completions/jit.bash", zsh: "completions/_jit", fish: "completions/jit.fish" };
