// oidc-provider ships no type declarations; these cover only what src/idp uses.
declare module "oidc-provider" {
  import type { IncomingMessage, ServerResponse } from "node:http";

  export interface KoaContextWithOIDC {
    body: unknown;
    status: number;
    type: string;
    oidc?: { route?: string; client?: { clientId: string; clientName?: string } };
  }

  export interface InteractionDetails {
    uid: string;
    prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
    params: Record<string, unknown> & { client_id?: string; scope?: string };
    session?: { accountId?: string; uid?: string };
    grantId?: string;
  }

  export class Grant {
    constructor(init: { accountId: string; clientId: string });
    accountId: string;
    clientId: string;
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    addResourceScope(indicator: string, scope: string): void;
    save(): Promise<string>;
    static find(id: string): Promise<Grant | undefined>;
  }

  export class DeviceCode {
    clientId: string;
    isExpired: boolean;
    params: Record<string, unknown> & { scope?: string };
    accountId?: string;
    grantId?: string;
    scope?: string;
    authTime?: number;
    amr?: string[];
    error?: string;
    inFlight?: boolean;
    save(): Promise<string>;
    static findByUserCode(userCode: string, opts?: { ignoreExpiration?: boolean }): Promise<DeviceCode | undefined>;
  }

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    readonly issuer: string;
    readonly Grant: typeof Grant;
    readonly DeviceCode: typeof DeviceCode;
    callback(): (req: IncomingMessage, res: ServerResponse) => Promise<void>;
    use(fn: (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>): this;
    on(event: string, listener: (...args: unknown[]) => void): this;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<InteractionDetails>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: Record<string, unknown>,
      opts?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
  }
}
