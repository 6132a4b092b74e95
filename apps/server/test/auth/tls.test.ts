import { execFile } from "node:child_process"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { request } from "node:https"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"
import type { FastifyInstance } from "fastify"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { WebSocket } from "ws"
import { buildApp } from "../../src/app.js"
import { ConfigError, parseServeArgs } from "../../src/config.js"
import { testAuth, testTokens } from "../helpers/auth.js"

const run = promisify(execFile)

const hasOpenssl = await run("openssl", ["version"]).then(
  () => true,
  () => false,
)
if (!hasOpenssl) console.log("skipping the TLS tests: no `openssl` on PATH to make a certificate")

describe.skipIf(!hasOpenssl)("TLS", () => {
  const dir = mkdtempSync(join(tmpdir(), "geppetto-tls-"))
  const certFile = join(dir, "cert.pem")
  const keyFile = join(dir, "key.pem")
  let app: FastifyInstance
  let url: string
  let cert: Buffer

  beforeAll(async () => {
    await run("openssl", [
      "req",
      "-x509",
      "-newkey",
      "ed25519",
      "-keyout",
      keyFile,
      "-out",
      certFile,
      "-days",
      "1",
      "-nodes",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
    ])
    cert = readFileSync(certFile)
    app = await buildApp({
      tmuxVersion: "3.3a",
      auth: testAuth,
      https: { cert, key: readFileSync(keyFile) },
    })
    app.get("/api/test/ws", { websocket: true, config: { auth: "viewer" } }, (socket) => {
      socket.send("hello")
    })
    url = await app.listen({ host: "127.0.0.1", port: 0 })
  })

  afterAll(async () => {
    await app?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it("takes --tls-cert and --tls-key (or the env), both or neither, files that exist", () => {
    expect(parseServeArgs(["--tls-cert", certFile, "--tls-key", keyFile], {}).tls).toEqual({
      certFile,
      keyFile,
    })
    expect(
      parseServeArgs([], { GEPPETTO_TLS_CERT: certFile, GEPPETTO_TLS_KEY: keyFile }).tls,
    ).toEqual({ certFile, keyFile })
    expect(parseServeArgs([], {}).tls).toBeUndefined()
    expect(() => parseServeArgs(["--tls-cert", certFile], {})).toThrow(ConfigError)
    expect(() => parseServeArgs([], { GEPPETTO_TLS_KEY: keyFile })).toThrow(/both or neither/)
    expect(() =>
      parseServeArgs(["--tls-cert", join(dir, "missing.pem"), "--tls-key", keyFile], {}),
    ).toThrow(/no such file/)
    expect(() => parseServeArgs(["--tls-cert", dir, "--tls-key", keyFile], {})).toThrow(ConfigError)
  })

  it("serves HTTPS and marks the session cookie Secure", async () => {
    expect(url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/)
    const reply = await new Promise<{ status: number; cookie: string; body: string }>(
      (resolve, reject) => {
        const body = JSON.stringify({ token: testTokens.operator })
        const req = request(
          `${url}/api/login`,
          {
            method: "POST",
            ca: cert,
            servername: "localhost",
            headers: { "content-type": "application/json", "content-length": body.length },
          },
          (res) => {
            let text = ""
            res.setEncoding("utf8")
            res.on("data", (chunk: string) => {
              text += chunk
            })
            res.on("end", () =>
              resolve({
                status: res.statusCode ?? 0,
                cookie: res.headers["set-cookie"]?.[0] ?? "",
                body: text,
              }),
            )
          },
        )
        req.on("error", reject)
        req.end(body)
      },
    )
    expect(reply.status).toBe(200)
    expect(JSON.parse(reply.body)).toEqual({ user: "owner", role: "admin" })
    expect(reply.cookie).toContain("; Secure")
    expect(reply.cookie).toContain("; HttpOnly")
    expect(reply.cookie).toContain("; SameSite=Strict")
  })

  it("compares the scheme too when checking a WebSocket Origin", async () => {
    const open = (origin: string) =>
      new Promise<number>((resolve, reject) => {
        const socket = new WebSocket(
          `${url.replace(/^https/, "wss")}/api/test/ws?token=${testTokens.viewer}`,
          { ca: cert, origin },
        )
        socket.once("unexpected-response", (req, res) => {
          resolve(res.statusCode ?? 0)
          req.destroy()
        })
        socket.once("message", () => {
          resolve(101)
          socket.close()
        })
        socket.once("error", reject)
      })
    expect(await open(url)).toBe(101)
    expect(await open(url.replace(/^https/, "http"))).toBe(403)
  })
})
