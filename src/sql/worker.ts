/** The analysis worker (see offload.ts): parses and analyses one large statement at a time, off the broker's event loop. */
import { parentPort } from "node:worker_threads";
import { JitError } from "../errors.ts";
import { analyze } from "./analyze.ts";
import { type Answer, inspectInline, type Job } from "./offload.ts";

parentPort!.on("message", (msg: Job & { id: number }) => {
  let answer: Answer;
  try {
    const value = msg.op === "inspect" ? inspectInline(msg.sql, msg.defaultProject) : analyze(msg.sql, msg.opts);
    answer = { id: msg.id, value };
  } catch (err) {
    const e = err instanceof JitError ? err : new JitError("internal", "SQL analysis failed");
    answer = { id: msg.id, error: { code: e.code, message: e.message, hint: e.hint, details: e.details } };
  }
  parentPort!.postMessage(answer);
});
