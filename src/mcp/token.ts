/** The MCP server's token supply: the credential store read on every call, with parallel calls sharing one refresh. */
import type { CredentialStore } from "../auth/credential-store.ts";

/**
 * Shares one in-flight call among concurrent callers and forgets it once settled (nothing is cached).
 * Needed because MCP clients call tools in parallel, and two refreshes with the same rotating refresh
 * token make the identity provider treat the second as a replay and end the session.
 */
export function singleFlight<T>(fn: () => Promise<T>): () => Promise<T> {
  let inFlight: Promise<T> | undefined;
  return () => {
    inFlight ??= fn().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}

/** Returns a token supplier per broker URL, each single-flighted over `currentToken`. */
export function tokenSuppliers(store: () => Promise<CredentialStore>): (brokerUrl: string) => () => Promise<string> {
  const byBroker = new Map<string, () => Promise<string>>();
  return (brokerUrl) => {
    let supply = byBroker.get(brokerUrl);
    if (!supply) {
      supply = singleFlight(async () => {
        const { currentToken } = await import("../auth/session.ts");
        return currentToken(await store(), brokerUrl);
      });
      byBroker.set(brokerUrl, supply);
    }
    return supply;
  };
}
