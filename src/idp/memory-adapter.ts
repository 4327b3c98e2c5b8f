/**
 * A per-provider, in-memory storage adapter for oidc-provider. The library's own memory adapter
 * is only reachable as its implicit default, which prints a "MUST change" warning on every start;
 * this one has the same behaviour (TTL, user-code/session-uid/grant indexes) without the noise.
 */

type Payload = Record<string, unknown> & { grantId?: string; userCode?: string; uid?: string; consumed?: number };

interface Entry {
  payload: Payload;
  /** Epoch ms; Infinity when the model has no expiry. */
  expiresAt: number;
}

/** Models whose records are revoked together when their grant is. */
const GRANTABLE = new Set(["AccessToken", "AuthorizationCode", "RefreshToken", "DeviceCode", "BackchannelAuthenticationRequest"]);

/** Holds every model's records for one provider instance. */
class Store {
  readonly entries = new Map<string, Entry>();
  readonly userCodes = new Map<string, string>();
  readonly sessionUids = new Map<string, string>();
  readonly grants = new Map<string, Set<string>>();

  get(key: string): Payload | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  /** Drops expired records so a long-running dev broker does not grow without bound. */
  sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.entries) if (entry.expiresAt <= now) this.entries.delete(key);
    for (const [code, id] of this.userCodes) if (!this.entries.has(`DeviceCode:${id}`)) this.userCodes.delete(code);
    for (const [uid, id] of this.sessionUids) if (!this.entries.has(`Session:${id}`)) this.sessionUids.delete(uid);
    for (const [grantId, members] of this.grants) {
      for (const key of members) if (!this.entries.has(key)) members.delete(key);
      if (members.size === 0) this.grants.delete(grantId);
    }
  }
}

/** The adapter contract oidc-provider calls, one instance per model name. */
class MemoryAdapter {
  readonly model: string;
  readonly store: Store;

  constructor(model: string, store: Store) {
    this.model = model;
    this.store = store;
  }

  private key(id: string): string {
    return `${this.model}:${id}`;
  }

  async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
    const key = this.key(id);
    const expiresAt = typeof expiresIn === "number" ? Date.now() + expiresIn * 1000 : Infinity;
    if (this.store.entries.size % 256 === 0) this.store.sweep();
    this.store.entries.set(key, { payload: structuredClone(payload), expiresAt });
    if (this.model === "Session" && typeof payload.uid === "string") this.store.sessionUids.set(payload.uid, id);
    if (typeof payload.userCode === "string") this.store.userCodes.set(payload.userCode, id);
    if (GRANTABLE.has(this.model) && typeof payload.grantId === "string") {
      const members = this.store.grants.get(payload.grantId) ?? new Set<string>();
      members.add(key);
      this.store.grants.set(payload.grantId, members);
    }
  }

  async find(id: string): Promise<Payload | undefined> {
    const payload = this.store.get(this.key(id));
    return payload === undefined ? undefined : structuredClone(payload);
  }

  async findByUserCode(userCode: string): Promise<Payload | undefined> {
    const id = this.store.userCodes.get(userCode);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUid(uid: string): Promise<Payload | undefined> {
    const id = this.store.sessionUids.get(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async consume(id: string): Promise<void> {
    const payload = this.store.get(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    this.store.entries.delete(this.key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    for (const key of this.store.grants.get(grantId) ?? []) this.store.entries.delete(key);
    this.store.grants.delete(grantId);
  }
}

/** A fresh adapter factory with its own storage, for `new Provider(issuer, { adapter })`. */
export function createMemoryAdapter(): (model: string) => MemoryAdapter {
  const store = new Store();
  return (model) => new MemoryAdapter(model, store);
}
