/** `jit config get|set|list`: the settings in $XDG_CONFIG_HOME/jit/config.json. */
import { JitError } from "../../errors.ts";
import { configPath, loadConfig, normaliseBrokerUrl, saveConfig } from "../config.ts";
import type { CliContext } from "../context.ts";
import { printJson } from "./util.ts";

/** The settings jit reads, with what each is for and the environment variable that overrides it. */
export const SETTINGS: Record<string, { about: string; env: string }> = {
  broker: { about: "the broker URL (jit login --broker URL sets it)", env: "JIT_BROKER" },
  pager: { about: 'the pager for long output on a terminal ("" for none)', env: "JIT_PAGER" },
};

function key(name: string): string {
  if (!(name in SETTINGS)) throw new JitError("usage", `unknown setting "${name}"`, { hint: `settings: ${Object.keys(SETTINGS).join(", ")} (jit config list)` });
  return name;
}

/** Prints one setting's value (nothing, exit 0, when it is unset). */
export async function configGetCommand(ctx: CliContext, name: string): Promise<void> {
  const value = loadConfig(ctx.io.env)[key(name)];
  if (ctx.flags.json) return printJson(ctx, { [name]: value ?? null });
  if (typeof value === "string") ctx.io.out(value);
}

/** Sets one setting (a broker URL is checked and normalised first); an empty value removes it. */
export async function configSetCommand(ctx: CliContext, name: string, value: string): Promise<void> {
  key(name);
  const stored = value === "" && name !== "pager" ? undefined : name === "broker" ? normaliseBrokerUrl(value) : value;
  saveConfig(ctx.io.env, { [name]: stored });
  if (ctx.flags.json) return printJson(ctx, { [name]: stored ?? null });
  ctx.io.err(stored === undefined ? `Removed ${name} from ${configPath(ctx.io.env)}.` : `Set ${name} = ${JSON.stringify(stored)} in ${configPath(ctx.io.env)}.`);
}

/** Prints every setting, the value in force and where it comes from (environment or file). */
export async function configListCommand(ctx: CliContext): Promise<void> {
  const cfg = loadConfig(ctx.io.env);
  const rows = Object.entries(SETTINGS).map(([name, s]) => {
    const fromEnv = ctx.io.env[s.env];
    const value = fromEnv !== undefined ? fromEnv : cfg[name];
    const source = fromEnv !== undefined ? `$${s.env}` : cfg[name] !== undefined ? "config file" : "unset";
    return { key: name, value: typeof value === "string" ? value : null, source, about: s.about };
  });
  if (ctx.flags.json) return printJson(ctx, { file: configPath(ctx.io.env), settings: rows });
  ctx.io.out(`# ${configPath(ctx.io.env)}`);
  for (const r of rows) ctx.io.out(`${r.key.padEnd(7)} ${r.value === null ? "-" : JSON.stringify(r.value)}   (${r.source}; ${r.about})`);
}
