// Container HEALTHCHECK: GET /healthz on the broker's own listener (the default https://127.0.0.1:8443, the broker's
// self-signed or private-CA certificate accepted: this checks liveness, not the certificate). Exit 0 alive, 1 not.
import { request } from "node:https";
import { request as httpRequest } from "node:http";

const url = new URL(process.env.JIT_HEALTH_URL || "https://127.0.0.1:8443/healthz");
const send = url.protocol === "https:" ? request : httpRequest;
const req = send(url, { method: "GET", timeout: 2500, rejectUnauthorized: false }, (res) => {
  res.resume();
  process.exit(res.statusCode === 200 ? 0 : 1);
});
req.on("timeout", () => req.destroy(new Error("timeout")));
req.on("error", () => process.exit(1));
req.end();
