/** The demo warehouse's schemas (SPEC.md "Demo"), as analyze() receives them. */
import type { Analysis, SchemaMap } from "../../src/sql/types.ts";
import type { Field } from "../../src/warehouse/types.ts";
import { analyze } from "../../src/sql/analyze.ts";

const f = (name: string, type: Field["type"]): Field => ({ name, type });

export const schemas: SchemaMap = new Map([
  ["demo.sales.customers", [
    f("id", "INT64"), f("full_name", "STRING"), f("email", "STRING"), f("phone", "STRING"), f("ssn", "STRING"),
    f("card_number", "STRING"), f("city", "STRING"), f("signup_date", "DATE"),
  ]],
  ["demo.sales.orders", [
    f("order_id", "INT64"), f("customer_id", "INT64"), f("amount", "NUMERIC"), f("status", "STRING"), f("created_at", "TIMESTAMP"),
  ]],
  ["demo.hr.employees", [
    f("employee_id", "INT64"), f("full_name", "STRING"), f("email", "STRING"), f("ssn", "STRING"), f("department", "STRING"),
    f("salary", "NUMERIC"),
  ]],
]);

/** The sensitive columns of the demo policy. */
export const SENSITIVE = new Set([
  "demo.sales.customers.ssn", "demo.sales.customers.card_number", "demo.sales.customers.email",
  "demo.hr.employees.ssn", "demo.hr.employees.email",
]);

export const run = (sql: string): Analysis => analyze(sql, { defaultProject: "demo", schemas });

/** Output name → sorted "table.column" sources (table without project). */
export function lineage(a: Analysis): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const o of a.outputs) out[o.name] = o.sources.map((s) => `${s.table.replace(/^demo\./, "")}.${s.column}`).sort();
  return out;
}

/** "construct: table.column" strings for the non-projection uses. */
export function uses(a: Analysis): string[] {
  return a.uses.map((u) => `${u.construct}: ${u.column.table.replace(/^demo\./, "")}.${u.column.column}`);
}
