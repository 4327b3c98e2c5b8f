/** How every jit tool answers: compact JSON first (parseable), an optional note for the model, structuredContent for programs. */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { BrokerClient } from "../cli/client.ts";
import { explainError } from "./errors.ts";

export interface ToolContext {
  /** A broker client acting as the signed-in person; built per call, so a new `jit login` is picked up without a restart. */
  client(): Promise<BrokerClient>;
  /** Writes a line to stderr (stdout carries the protocol). */
  log(line: string): void;
}

/** A successful result: the data as compact JSON text (and as structuredContent), then a note when there is something to say. */
export function toolResult(data: Record<string, unknown>, note?: string): CallToolResult {
  const content: CallToolResult["content"] = [{ type: "text", text: JSON.stringify(data) }];
  if (note) content.push({ type: "text", text: note });
  return { content, structuredContent: data };
}

/** Runs a tool body with a fresh client; any failure becomes a tool error that says what a person must do (`sql`: the query's SQL). */
export async function guarded(ctx: ToolContext, body: (client: BrokerClient) => Promise<CallToolResult>, sql?: string): Promise<CallToolResult> {
  let client: BrokerClient | undefined;
  try {
    client = await ctx.client();
    return await body(client);
  } catch (err) {
    return explainError(err, client, ctx.log, sql);
  }
}
