/** Real Debian chromium driven by playwright-core, one browser per test file; axe-core runs inside the page. */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Browser, Page } from "playwright-core";
import { JIT_BIN, type RunResult } from "../e2e/harness.ts";

export const CHROMIUM = "/usr/bin/chromium";

/** Why the browser tests cannot run here, or false. In CI a missing chromium fails instead (.ci/run installs it). */
export function browserSkip(): string | false {
  if (existsSync(CHROMIUM)) return false;
  if (process.env.CI) throw new Error(`${CHROMIUM} is missing in CI: .ci/run must install Debian's chromium`);
  const why = `skipped: ${CHROMIUM} is missing (apt-get update && apt-get install -y chromium)`;
  process.stderr.write(`console browser tests ${why}\n`);
  return why;
}

/** Launches headless chromium with the flags that keep it off the network and quiet. */
export async function launchChromium(): Promise<Browser> {
  const { chromium } = await import("playwright-core");
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
    timeout: 30_000,
  });
}

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[] }[];
}

/** Runs axe-core in the page (through the debugger, so the page's strict CSP needs no loosening) and returns serious and critical violations. */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  await page.evaluate(`${AXE_SOURCE}\n;void 0`);
  const result = (await page.evaluate("axe.run(document, { resultTypes: ['violations'] })")) as { violations: AxeViolation[] };
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
}

/** Signs a demo user in on the dev IdP's own pages (the page must be on the IdP's sign-in form). */
export async function signInOnIdp(page: Page, user: string): Promise<void> {
  await page.waitForSelector("input[name=username]");
  await page.fill("input[name=username]", user);
  await page.fill("input[name=password]", user);
  await Promise.all([page.waitForURL(/\/console\//, { timeout: 15_000 }), page.click("button[type=submit]:not(.link)")]);
  // The callback lands on a page that carries on to where the person was going.
  await page.waitForURL((u) => !u.pathname.startsWith("/console/callback"), { timeout: 15_000 });
  await page.waitForLoadState("load");
}

/**
 * Runs the built `jit` like the e2e harness's runJit, but with stdin closed from the start: these commands read
 * none, and writing an empty stdin to a child that already closed it fails with EPIPE on a loaded machine.
 */
export function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [JIT_BIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}
