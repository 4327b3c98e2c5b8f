/** The commander tree: every command, its flags and examples. Each action lazily imports its command module. */
import { Argument, Command, Option } from "commander";
import type { CliContext } from "./context.ts";
import { FORMATS } from "./output.ts";

type Action = (...args: any[]) => Promise<void>;

/** Wraps a lazily imported command function so `jit --help` never loads what a command needs. */
const lazy = (ctx: CliContext, load: () => Promise<(ctx: CliContext, ...args: any[]) => Promise<void>>): Action =>
  async (...args: any[]) => {
    const cmd = args.at(-1) as Command;
    ctx.flags = cmd.optsWithGlobals();
    // --json FIELDS and --jq are checked (and jq loaded) before the command does anything; --jq implies --json.
    if (ctx.flags.jsonFields !== undefined || ctx.flags.jq !== undefined) {
      const { prepareJson } = await import("./json-output.ts");
      ctx.json = await prepareJson(commandName(cmd), ctx.flags.jsonFields, ctx.flags.jq);
      ctx.flags.json = true;
    }
    // The daily update check runs beside the command (update-notice.ts); main prints its notice, if any, at the end.
    if (ctx.io.isStderrTTY && ctx.io.isStdoutTTY && !ctx.flags.json) {
      const { noticeWanted, startUpdateCheck } = await import("./update-notice.ts");
      let url: string | undefined;
      try {
        url = noticeWanted(ctx.io, commandName(cmd), false) ? ctx.brokerUrl() : undefined;
      } catch {
        url = undefined; // no broker configured: the command says so if it needs one
      }
      if (url) ctx.updateCheck = startUpdateCheck(ctx.io, ctx.version, url);
    }
    const fn = await load();
    await fn(ctx, ...args.slice(0, -1));
  };

/** "request show" for the command `jit request show`. */
const commandName = (cmd: Command): string => {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
};

const examples = (...lines: string[]) => `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`;

/**
 * Help settings for every command. `--json` is a switch to commander (main turns `--json FIELDS` into --json-fields
 * first, so it never swallows a command's argument), but help shows the optional field list it takes.
 */
const HELP_CONFIG = {
  showGlobalOptions: true,
  optionTerm: (o: Option) => (o.long === "--json" ? "--json [fields]" : o.flags),
};

/** Help is laid out for 80 columns whatever the terminal, so `jit --help` can be answered from prebuilt text (help-text.ts). */
export const HELP_WIDTH = 80;

/** Builds the program for one invocation. */
export function buildProgram(ctx: CliContext): Command {
  const output = {
    writeOut: (s: string) => void ctx.io.stdout.write(s),
    writeErr: (s: string) => void ctx.io.stderr.write(s),
    outputError: () => {},
    getOutHelpWidth: () => HELP_WIDTH,
    getErrHelpWidth: () => HELP_WIDTH,
  };
  const program = new Command("jit")
    .description("Just-in-time, policy-checked, masked and audited access to BigQuery, with no standing credential.")
    .version(ctx.version, "-v, --version")
    .option("--json", "machine-readable output on stdout; with fields (id,state) only those (errors as one JSON object on stderr)")
    .addOption(new Option("--json-fields <fields>").hideHelp())
    .option("--jq <expression>", "filter the JSON output with a jq expression (implies --json)")
    .option("--broker <url>", "broker URL (overrides JIT_BROKER and the config file)")
    .showHelpAfterError(false)
    .configureHelp(HELP_CONFIG)
    .configureOutput(output)
    .helpCommand(false)
    .exitOverride()
    .addHelpText("after", examples("jit broker dev", "jit login --broker http://127.0.0.1:8787", 'jit request demo.sales --reason "weekly report"', 'jit query "SELECT city, COUNT(*) n FROM demo.sales.customers GROUP BY city"') +
      "\nHelp topics: jit help environment | exit-codes | formatting | policy\n");

  // Every command writes help to the injected streams and throws instead of exiting, so main maps exit codes.
  const wire = (c: Command) => c.exitOverride().configureHelp(HELP_CONFIG).configureOutput(output);
  const sub = (name: string, description: string, parent: Command = program) => wire(parent.command(name).description(description));

  sub("login", "sign in with the company identity provider (OIDC device flow); tokens go to the OS keychain")
    .option("--no-browser", "do not open a browser; print the URL and code only")
    .addHelpText("after", examples("jit login --broker http://127.0.0.1:8787", "jit login --no-browser"))
    .action(lazy(ctx, async () => (await import("./commands/login.ts")).loginCommand));

  sub("logout", "delete the stored tokens for the broker (and revoke the refresh token where the IdP allows)")
    .addHelpText("after", examples("jit logout"))
    .action(lazy(ctx, async () => (await import("./commands/login.ts")).logoutCommand));

  sub("whoami", "show who you are signed in as, your groups, token expiry and active grants")
    .addHelpText("after", examples("jit whoami", "jit whoami --json"))
    .action(lazy(ctx, async () => (await import("./commands/whoami.ts")).whoamiCommand));

  sub("request", "ask for a time-boxed grant on one or more datasets (project.dataset)")
    .argument("<datasets...>", "datasets, e.g. demo.sales")
    .option("--reason <text>", "why you need it (recorded and shown to approvers)")
    .option("--duration <d>", "how long, e.g. 30m, 1h, 8h (capped by policy)")
    .option("--wait", "wait until the request is decided")
    .option("--timeout <d>", "with --wait: give up after this long", "15m")
    .addHelpText("after", examples('jit request demo.sales --reason "weekly report"', 'jit request demo.hr --reason "audit" --duration 30m --wait'))
    .action(lazy(ctx, async () => (await import("./commands/request.ts")).requestCommand));
  const request = program.commands.find((c) => c.name() === "request")!;
  sub("show", "show one request in full: state, approvals, grant", request)
    .argument("<id>", "request id")
    .addHelpText("after", examples("jit request show 12", "jit request show 12 --json"))
    .action(lazy(ctx, async () => (await import("./commands/request-id.ts")).requestShowCommand));
  sub("wait", "wait for a pending request to be decided (Ctrl-C stops waiting; the request stays pending)", request)
    .argument("<id>", "request id")
    .addHelpText("after", examples("jit request wait 12", "jit request wait 12 --timeout 1h"))
    .action(lazy(ctx, async () => (await import("./commands/request-id.ts")).requestWaitCommand));
  sub("cancel", "withdraw your own pending request (audited; approvers can no longer approve it)", request).argument("<id>", "request id").addHelpText("after", examples("jit request cancel 12")).action(lazy(ctx, async () => (await import("./commands/request-id.ts")).requestCancelCommand));

  sub("requests", "list access requests (approvers also see what they may approve)")
    .option("--pending", "only pending requests")
    .option("--mine", "only your own requests")
    .addHelpText("after", examples("jit requests --pending", "jit requests --mine --json"))
    .action(lazy(ctx, async () => (await import("./commands/requests.ts")).requestsCommand));

  sub("approve", "approve a pending request (no ID on a terminal: pick one, then approve or deny it)")
    .argument("[id]", "request id")
    .option("--comment <text>", "a note recorded with the approval")
    .addHelpText("after", examples("jit approve 42 --comment ok", "jit approve   # pick from what you may approve; Esc or Ctrl-C leaves"))
    .action(lazy(ctx, async () => (await import("./commands/decide.ts")).approveCommand));

  sub("deny", "deny a pending request")
    .argument("<id>", "request id")
    .requiredOption("--reason <text>", "why (shown to the requester)")
    .addHelpText("after", examples('jit deny 42 --reason "use the aggregated dataset"'))
    .action(lazy(ctx, async () => (await import("./commands/decide.ts")).denyCommand));

  sub("grants", "list your grants with their time left")
    .option("--all", "include expired, used and revoked grants")
    .addHelpText("after", examples("jit grants", "jit grants --all --json"))
    .action(lazy(ctx, async () => (await import("./commands/grants.ts")).grantsCommand));

  sub("revoke", "end a grant now (its holder, an approver of its datasets, or an admin)")
    .argument("<id>", "grant id")
    .option("--reason <text>", "why (recorded in the audit log)")
    .addHelpText("after", examples("jit revoke 7"))
    .action(lazy(ctx, async () => (await import("./commands/grants.ts")).revokeCommand));

  sub("query", "run SQL through the broker (SQL from the argument, --file, or stdin)")
    .argument("[sql]", "the SQL statement")
    .option("-f, --file <path>", "read the SQL from a file")
    .addOption(new Option("--format <format>", "output format (default: table on a terminal, json otherwise)").choices(FORMATS))
    .option("--max-rows <n>", "return at most this many rows (capped by policy)")
    .option("--dry-run", "show the decision, tables, masked columns and bytes estimate without running")
    .option("--wait-approval", "without a grant: file the request, wait for approval, then run")
    .option("--reason <text>", "with --wait-approval: the reason recorded with the request")
    .option("--timeout <d>", "with --wait-approval: give up after this long", "15m")
    .addHelpText("after", examples(
      'jit query "SELECT full_name, ssn, email FROM demo.sales.customers LIMIT 5"',
      'jit query --format csv -f report.sql > report.csv',
      'echo "SELECT COUNT(*) n FROM demo.sales.orders" | jit query --format json',
      'jit query --dry-run "SELECT * FROM demo.sales.customers"',
    ))
    .action(lazy(ctx, async () => (await import("./commands/query.ts")).queryCommand));

  sub("datasets", "list the datasets you may use or request")
    .addHelpText("after", examples("jit datasets"))
    .action(lazy(ctx, async () => (await import("./commands/metadata.ts")).datasetsCommand));
  sub("tables", "list the tables of a dataset")
    .argument("<dataset>", "e.g. demo.sales")
    .addHelpText("after", examples("jit tables demo.sales"))
    .action(lazy(ctx, async () => (await import("./commands/metadata.ts")).tablesCommand));
  sub("describe", "show a table's columns, with masked columns marked")
    .argument("<table>", "e.g. demo.sales.customers")
    .addHelpText("after", examples("jit describe demo.sales.customers"))
    .action(lazy(ctx, async () => (await import("./commands/metadata.ts")).describeCommand));

  const mcp = sub("mcp", "an MCP server on stdio acting as you (for AI agents); needs jit login first")
    .addHelpText("after", examples("jit mcp", "jit mcp config --client claude-desktop"))
    .action(lazy(ctx, async () => (await import("./commands/mcp.ts")).mcpCommand));
  sub("config", "print the config snippet that adds jit to an MCP client (or, after --, another BigQuery MCP server under jit proxy)", mcp)
    .argument("[server...]", "after --: a BigQuery MCP server's command, run as jit proxy -- SERVER")
    .addOption(new Option("--client <name>", "the MCP client").choices(["claude-desktop", "cursor", "vscode", "claude-code"]).makeOptionMandatory())
    .option("--merge <file>", "add jit to this existing config file (created if missing), keeping its other servers")
    .addHelpText("after", examples("jit mcp config --client vscode --merge .vscode/mcp.json", "jit mcp config --client claude-code", "jit mcp config --client cursor -- npx -y @toolbox-sdk/server --config tools.yaml --stdio"))
    .action(lazy(ctx, async () => (await import("./commands/mcp.ts")).mcpConfigCommand));

  sub("proxy", "BigQuery's REST API on 127.0.0.1 as you, for unmodified BigQuery clients and MCP servers (see docs/proxy.md)")
    .argument("[command...]", "after --: run this command with BIGQUERY_EMULATOR_HOST and GOOGLE_APPLICATION_CREDENTIALS set, and exit with its status")
    .option("--port <port>", "port on 127.0.0.1 (default 9050; with a command, a free port)")
    .option("--env", "start in the background and print export lines: eval \"$(jit proxy --env)\"")
    .addHelpText("after", examples("jit proxy", 'eval "$(jit proxy --env)"', "jit proxy -- node report.js", "jit proxy -- npx @toolbox-sdk/server --tools-file tools.yaml --stdio"))
    .action(lazy(ctx, async () => (await import("./commands/proxy.ts")).proxyCommand));

  const audit = sub("audit", "the audit log: list, show, replay, verify, export (auditors and admins)")
    .addHelpText("after", examples("jit audit list --user carol --outcome denied", "jit audit verify"));
  const auditSub = (name: string, description: string) => sub(name, description, audit);
  auditSub("list", "list audit records")
    .option("--mine", "only your own records")
    .option("--user <name>", "only this user's records")
    .option("--action <action>", "only this action (request, approve, deny, cancel, revoke, expire, query, dry_run, metadata)")
    .option("--outcome <outcome>", "only this outcome (ok, denied, failed, pending)")
    .option("--dataset <dataset>", "only records about this dataset")
    .option("--since <time>", "from this time on: a time (2026-11-01, RFC 3339) or a duration ago (10m, 2h, 7d)")
    .option("--until <time>", "before this time (same forms as --since)")
    .option("--limit <n>", "at most this many records, newest first", "50")
    .option("--before <id>", "only records older than this record id (the next page; the list's footer names it)")
    .option("--after <id>", "only records newer than this record id (alone: the ones right after it)")
    .addHelpText("after", examples("jit audit list --since 10m", "jit audit list --before 1200 --limit 100", "jit audit list --since 2026-11-01 --until 2026-11-02", "jit audit list --user carol --outcome denied"))
    .action(lazy(ctx, async () => (await import("./commands/audit.ts")).auditListCommand));
  auditSub("show", "show one audit record").argument("<id>")
    .addHelpText("after", examples("jit audit show 42"))
    .action(lazy(ctx, async () => (await import("./commands/audit.ts")).auditShowCommand));
  auditSub("replay", "print exactly what the caller of a query received").argument("<id>")
    .addHelpText("after", examples("jit audit replay 42", "jit audit replay 42 --format csv"))
    .addOption(new Option("--format <format>", "output format").choices(FORMATS))
    .action(lazy(ctx, async () => (await import("./commands/audit.ts")).auditReplayCommand));
  auditSub("verify", "recompute the hash chain and report the first broken link (exit 4 when broken)")
    .option("--anchor <chain:seq:hash>", "a head printed by an earlier verify (once per chain): also fail if it was truncated away or rewritten", (v: string, all: string[] = []) => [...all, v])
    .addHelpText("after", examples("jit audit verify", "jit audit verify --anchor 1:1200:9f2c… --anchor 2:830:51ab…   # detects a truncated tail"))
    .action(lazy(ctx, async () => (await import("./commands/audit.ts")).auditVerifyCommand));
  auditSub("export", "export records for a SIEM, one JSON object per line")
    .addHelpText("after", examples("jit audit export --since 2026-11-01 > audit.jsonl"))
    .option("--since <time>", "from this time on: a time or a duration ago (10m, 7d)")
    .addOption(new Option("--format <format>", "export format").choices(["jsonl"]).default("jsonl"))
    .action(lazy(ctx, async () => (await import("./commands/audit.ts")).auditExportCommand));

  const policy = sub("policy", "check a policy file, or explain a decision")
    .addHelpText("after", examples("jit policy check policy.yaml", 'jit policy explain --as carol --groups contractors "SELECT city FROM demo.sales.customers"'));
  sub("check", "validate a policy file (errors with line and column)", policy).argument("<file>")
    .addHelpText("after", examples("jit policy check policy.yaml"))
    .action(lazy(ctx, async () => (await import("./commands/policy.ts")).policyCheckCommand));

  sub("explain", "explain what the broker's policy decides for a person and a statement, and which rules decide", policy)
    .argument("<sql>", "the statement")
    .requiredOption("--as <user>", "the person (user name)")
    .requiredOption("--groups <g1,g2>", "their groups, comma-separated", "")
    .addHelpText("after", examples('jit policy explain --as carol --groups contractors "SELECT city FROM demo.sales.customers"'))
    .action(lazy(ctx, async () => (await import("./commands/policy.ts")).policyExplainCommand));

  const broker = sub("broker", "run the broker")
    .addHelpText("after", examples("jit broker dev", "jit broker serve --config /etc/jit/broker.yaml"));
  sub("serve", "the production broker: real identity provider, BigQuery, SQLite or PostgreSQL (see broker.yaml in the README)", broker)
    .requiredOption("--config <file>", "broker.yaml")
    .option("--check", "validate broker.yaml and the files it names (policy, keys, secrets), then exit without starting")
    .addHelpText("after", examples("jit broker serve --config /etc/jit/broker.yaml", "jit broker serve --config /etc/jit/broker.yaml --check", "kill -HUP $(pidof jit)   # reload the policy", "kill -TERM $(pidof jit)  # drain in-flight queries, then stop"))
    .action(lazy(ctx, async () => (await import("./commands/broker.ts")).brokerServeCommand));
  sub("dev", "everything embedded on 127.0.0.1: dev IdP, DuckDB demo warehouse, demo policy, SQLite store", broker)
    .option("--port <port>", "port to listen on", "8787")
    .option("--data-dir <dir>", "where the SQLite store and keys live (default: $XDG_STATE_HOME/jit/dev)")
    .option("--metrics-port <port>", "serve Prometheus /metrics on 127.0.0.1:PORT (default: a free port; off: none)", "0")
    .addHelpText("after", examples("jit broker dev", "jit broker dev --port 9000 --data-dir /tmp/jit-dev"))
    .action(lazy(ctx, async () => (await import("./commands/broker.ts")).brokerDevCommand));

  sub("completion", "print the shell completion script (also shipped in completions/)")
    .addArgument(new Argument("<shell>", "bash, zsh or fish").choices(["bash", "zsh", "fish"]))
    .addHelpText("after", examples("jit completion bash > ~/.local/share/bash-completion/completions/jit", "jit completion fish > ~/.config/fish/completions/jit.fish"))
    .action(lazy(ctx, async () => (await import("./commands/completion.ts")).completionCommand));

  // Hidden: the completion scripts call it for values only the broker knows (datasets, tables, request and grant ids).
  wire(program.command("__complete", { hidden: true }).description("values for the completion scripts"))
    .argument("<kind>", "datasets, tables, requests or grants")
    .argument("[word]", "the word being completed")
    .addHelpText("after", examples("jit __complete tables demo.sales.", "jit __complete requests"))
    .action(lazy(ctx, async () => (await import("./commands/complete.ts")).completeCommand));

  sub("demo", "the whole story in one command: broker, sign-ins, request, approval, masked query, audit")
    .option("--data-dir <dir>", "keep the demo's store here (default: a temporary directory)")
    .addHelpText("after", examples("jit demo"))
    .action(lazy(ctx, async () => (await import("../demo/demo.ts")).demoCommand));

  sub("version", "the CLI's version, and the broker's when one is configured")
    .addHelpText("after", examples("jit version", "jit version --json"))
    .action(lazy(ctx, async () => (await import("./commands/version.ts")).versionCommand));

  const config = sub("config", "read and change settings in the config file (broker URL, pager)")
    .addHelpText("after", examples("jit config list", "jit config set broker https://jit.example.com", "jit config get broker", "jit config set pager \"less -S\""));
  sub("get", "print one setting", config).argument("<key>", "broker or pager")
    .addHelpText("after", examples("jit config get broker"))
    .action(lazy(ctx, async () => (await import("./commands/config.ts")).configGetCommand));
  sub("set", "change one setting (an empty value removes it)", config).argument("<key>", "broker or pager").argument("<value>")
    .addHelpText("after", examples("jit config set broker https://jit.example.com", 'jit config set pager ""'))
    .action(lazy(ctx, async () => (await import("./commands/config.ts")).configSetCommand));
  sub("list", "print every setting and where it comes from", config)
    .addHelpText("after", examples("jit config list", "jit config list --json"))
    .action(lazy(ctx, async () => (await import("./commands/config.ts")).configListCommand));

  sub("help", "help on a command or a topic: environment, exit-codes, formatting, policy")
    .argument("[topic...]", "a topic (environment, exit-codes, formatting, policy) or a command")
    .addHelpText("after", examples("jit help exit-codes", "jit help environment", "jit help query"))
    .action(async (topic: string[] | undefined) => {
      const { helpCommand } = await import("./commands/help.ts");
      await helpCommand(ctx, program, topic ?? []);
    });

  return program;
}
