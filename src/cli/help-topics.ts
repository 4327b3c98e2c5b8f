/** `jit help TOPIC`: the things no single command's --help owns. Plain text, 80 columns. */

const ENVIRONMENT = `Environment variables

  JIT_BROKER            broker URL; overrides the config file (--broker overrides both)
  JIT_CREDENTIAL_STORE  where tokens are kept: "keychain" (default, the OS keychain
                        through the Secret Service, macOS Keychain or Windows
                        Credential Manager) or "file" (a 0600 JSON file under
                        $XDG_STATE_HOME/jit; for machines without a keychain)
  JIT_PAGER             pager for long output on a terminal (default: $PAGER, else
                        less with LESS=FRX); "" or "cat" turns paging off
  JIT_TIMEOUT           how long to wait for the broker's answer (default 10s; a
                        query waits up to 10m), e.g. JIT_TIMEOUT=30s
  JIT_DEBUG             set to 1 to print the stack of an unexpected error
  JIT_NO_UPDATE_NOTIFIER
                        set to 1 to stop the update notice: once a day jit
                        asks the broker's /healthz for its version (beside the
                        command, never waiting for it) and says on stderr when
                        this CLI is older or of another release line; only
                        when stdout and stderr are a terminal, never with --json
                        or in CI (CI set)
  NO_COLOR              set (to anything) for no colours; FORCE_COLOR=1 forces them
                        (colours are off when the output is not a terminal)
  XDG_CONFIG_HOME       the config file is $XDG_CONFIG_HOME/jit/config.json
                        (default ~/.config/jit/config.json)
  XDG_STATE_HOME        the file credential store and the dev broker's data live
                        under $XDG_STATE_HOME/jit (default ~/.local/state/jit)
  XDG_CACHE_HOME        compiled-code cache and the update check's last answer
                        ($XDG_CACHE_HOME/jit/update-check.json; default
                        ~/.cache)
  TZ                    the time zone jit audit list shows times in
`;

const EXIT_CODES = `Exit codes

  0    success
  1    unexpected error (set JIT_DEBUG=1 and report it)
  2    usage error: unknown flag, missing argument, invalid file, unknown id
  3    not signed in, or the session expired and could not be refreshed:
       run jit login
  4    denied: by policy, by a guardrail, by an approver, or no grant covers
       the query
  5    approval pending (or --wait / --wait-approval timed out)
  6    the warehouse rejected or failed the query
  7    the broker or the identity provider cannot be reached, did not answer
       in time, or is overloaded (retry after the time it says)
  130  interrupted (Ctrl-C) while waiting; nothing is withdrawn, the request
       stays pending: jit request wait ID resumes

With --json a failure prints one object on stderr:
  {"error": {"code": "denied", "message": "...", "hint": "...", ...}}
`;

const FORMATTING = `Output formats

  jit query --format table|json|jsonl|csv
    table  on a terminal (the default there): fitted to the terminal's width,
           long values cut with "…", numbers right-aligned, masked columns
           marked "name (style)"; at most a screenful of rows, with
           "showing 20 of 6000 rows" - use --max-rows N for more (long output
           then goes through the pager) or another format for everything
    json   the default when stdout is not a terminal: one object with columns,
           rows, row_count, truncated, masked_cells, bytes_processed, grant_id,
           audit_id; bytes_processed is null for a statement that could read
           a masked column (the figure counts the masked values' sizes)
    jsonl  one row object per line, nothing else
    csv    a header line, then rows (RFC 4180, CRLF line ends)

  --json   on every command: machine output on stdout, errors as one JSON
           object on stderr. It cannot be combined with --format other than
           json (a usage error, exit 2).
  --json FIELDS
           only these fields of each record, comma-separated, e.g.
           jit requests --json id,state (or --json=id,state); an unknown
           field is exit 2 and lists the available ones
  --jq EXPR
           filter the JSON output with jq (implies --json; jq 1.8): strings
           print raw, other values as JSON, e.g.
           jit grants --jq '.grants[] | select(.state == "active") | .id'
           (errors stay readable text unless --json is given too)

  Data goes to stdout, status lines and hints to stderr, so
  jit query ... --format csv > out.csv keeps only the rows.
  Sizes are SI (70.5 kB), durations 45s, 5m, 1h30m, 2d3h; times in
  jit audit list are in your local zone (TZ) with "ago".
`;

const POLICY = `The policy file (YAML), checked with: jit policy check FILE

  version: 1
  groups_claim: groups            # which token claim holds groups
  admins: [platform-admins]
  auditors: [auditors]
  datasets:
    - match: demo.sales           # project.dataset; glob allowed: "demo.*"
      access:
        - groups: [analysts]
          approval: auto          # auto | required
          max_duration: 8h
        - groups: [contractors]
          approval: required
          approvers: [data-owners]
          min_approvals: 1        # distinct approvers; never one's own request
          max_duration: 1h
  masking:
    columns:                      # by table.column, glob allowed
      - match: "demo.sales.customers.ssn"
        style: last4   # redact | null | last4 | first4 | hash | sha256 | email | year
    detectors: [credit_card, us_ssn, email]  # scan every returned string value
  guardrails:
    deny: [dml, ddl, script, export, external_query]
    max_bytes_processed: 10GB
    max_rows: 10000

A masked column may reach you only as a masked output column; using it in a
predicate, join, grouping or function is denied, naming the column.
See what the policy decides: jit policy explain --as USER --groups G "SQL"
`;

/** Topic name → text. */
export const HELP_TOPICS: Record<string, string> = {
  environment: ENVIRONMENT,
  "exit-codes": EXIT_CODES,
  formatting: FORMATTING,
  policy: POLICY,
};
