// Run by the test under `jit proxy -- node client-script.mjs SQL`: an unmodified Node client configured only by
// the environment jit proxy sets. Prints one JSON line, then raw bytes, and exits 3.
import { statSync } from "node:fs";
import { text } from "node:stream/consumers";
import { BigQuery } from "@google-cloud/bigquery";

const bq = new BigQuery({ projectId: "demo" });
const [rows] = await bq.query(process.argv[2]);
const credentials = process.env.GOOGLE_APPLICATION_CREDENTIALS;
const report = {
  rows,
  emulatorHost: process.env.BIGQUERY_EMULATOR_HOST,
  credentials,
  mode: statSync(credentials).mode & 0o777,
  stdin: await text(process.stdin),
};
process.stdout.write(`${JSON.stringify(report)}\n`);
process.stdout.write(Buffer.from([0x00, 0xff, 0xfe, 0x0d, 0x0a, 0x1b, 0x5b, 0x33, 0x31, 0x6d]));
process.exitCode = 3;
