import { createHash, timingSafeEqual } from "node:crypto";

/** A person the embedded dev identity provider can sign in. Their password is their user name. */
export interface DemoUser {
  username: string;
  name: string;
  email: string;
  groups: string[];
}

/** The demo users of `jit broker dev`, one per role of the demo policy. */
export const DEMO_USERS: readonly DemoUser[] = Object.freeze([
  { username: "alice", name: "Alice Analyst", email: "alice@example.com", groups: ["analysts"] },
  { username: "bob", name: "Bob Owner", email: "bob@example.com", groups: ["data-owners"] },
  { username: "carol", name: "Carol Contractor", email: "carol@example.com", groups: ["contractors"] },
  { username: "dave", name: "Dave Auditor", email: "dave@example.com", groups: ["auditors"] },
].map((u) => Object.freeze({ ...u, groups: Object.freeze([...u.groups]) as string[] })));

/** The demo user with this user name, or undefined. */
export function findDemoUser(username: string): DemoUser | undefined {
  return DEMO_USERS.find((u) => u.username === username);
}

/** Hashing first makes both sides the same length, which timingSafeEqual requires. */
function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(createHash("sha256").update(a).digest(), createHash("sha256").update(b).digest());
}

/** The demo user whose user name and password match, or undefined; takes the same time for unknown users. */
export function checkDemoCredentials(username: string, password: string): DemoUser | undefined {
  const user = findDemoUser(username);
  const ok = sameSecret(password, user?.username ?? "\u0000no-such-user");
  return user && ok ? user : undefined;
}
