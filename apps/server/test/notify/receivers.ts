import { execFileSync } from "node:child_process"
import {
  createDecipheriv,
  createECDH,
  createPublicKey,
  hkdfSync,
  randomBytes,
  verify,
} from "node:crypto"
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { createServer as createHttpServer, type IncomingHttpHeaders, type Server } from "node:http"
import { Agent, createServer as createHttpsServer } from "node:https"
import type { AddressInfo } from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"

/** One request a receiver got. */
export interface Received {
  readonly method: string
  readonly path: string
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
  readonly at: number
}

/** What a receiver answers a request with: a status, and optional headers. */
export type Responder = (
  request: Received,
) => number | { readonly status: number; readonly headers?: Record<string, string> }

abstract class Receiver {
  readonly received: Array<Received> = []
  respond: Responder = () => 201
  protected abstract readonly server: Server

  protected handle = (
    req: import("node:http").IncomingMessage,
    res: import("node:http").ServerResponse,
  ) => {
    const chunks: Array<Buffer> = []
    req.on("data", (c: Buffer) => chunks.push(c))
    req.on("end", () => {
      const got: Received = {
        method: req.method ?? "",
        path: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks),
        at: Date.now(),
      }
      this.received.push(got)
      const answer = this.respond(got)
      const { status, headers } =
        typeof answer === "number" ? { status: answer, headers: {} } : answer
      res.writeHead(status, headers ?? {})
      res.end()
    })
  }

  protected get port(): number {
    return (this.server.address() as AddressInfo).port
  }

  /** Requests to `path` (all of them without one). */
  to(path?: string): ReadonlyArray<Received> {
    return path === undefined ? this.received : this.received.filter((r) => r.path === path)
  }

  close(): Promise<void> {
    this.server.closeAllConnections()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}

/**
 * A push service on loopback: HTTPS with a self-signed certificate made here with the openssl
 * command line (`agent` trusts it), answering `respond(request)` (201 unless told otherwise).
 */
export class PushService extends Receiver {
  protected readonly server: Server
  readonly agent: Agent
  private readonly dir: string

  private constructor(cert: Buffer, key: Buffer, dir: string) {
    super()
    this.dir = dir
    this.server = createHttpsServer({ cert, key }, this.handle)
    this.agent = new Agent({ ca: cert, keepAlive: false })
  }

  static async start(): Promise<PushService> {
    const dir = mkdtempSync(join(tmpdir(), "geppetto-push-"))
    const certFile = join(dir, "cert.pem")
    const keyFile = join(dir, "key.pem")
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-keyout",
        keyFile,
        "-out",
        certFile,
        "-days",
        "1",
        "-nodes",
        "-subj",
        "/CN=push.test",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ],
      { stdio: "ignore" },
    )
    const service = new PushService(readFileSync(certFile), readFileSync(keyFile), dir)
    await new Promise<void>((resolve) => service.server.listen(0, "127.0.0.1", resolve))
    return service
  }

  get origin(): string {
    return `https://127.0.0.1:${this.port}`
  }

  override async close(): Promise<void> {
    this.agent.destroy()
    await super.close()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

/** A plain HTTP receiver for webhooks. */
export class WebhookReceiver extends Receiver {
  protected readonly server: Server = createHttpServer(this.handle)

  static async start(): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver()
    await new Promise<void>((resolve) => receiver.server.listen(0, "127.0.0.1", resolve))
    return receiver
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`
  }
}

/**
 * A browser's side of a subscription: its P-256 key pair and auth secret, and the RFC 8291
 * decryption of what a push service hands it (`aes128gcm`, RFC 8188, one record), written here
 * with Node's crypto and nothing of `web-push`.
 */
export const browserSubscription = (endpoint: string) => {
  const ecdh = createECDH("prime256v1")
  const publicKey = ecdh.generateKeys()
  const auth = randomBytes(16)
  return {
    json: {
      endpoint,
      expirationTime: null,
      keys: { p256dh: publicKey.toString("base64url"), auth: auth.toString("base64url") },
    },
    decrypt: (body: Buffer): string => {
      const salt = body.subarray(0, 16)
      const recordSize = body.readUInt32BE(16)
      const idLength = body.readUInt8(20)
      const serverKey = body.subarray(21, 21 + idLength)
      const ciphertext = body.subarray(21 + idLength)
      if (ciphertext.length > recordSize) throw new Error("more than one record")
      const secret = ecdh.computeSecret(serverKey)
      const keyInfo = Buffer.concat([Buffer.from("WebPush: info\0"), publicKey, serverKey])
      const ikm = Buffer.from(hkdfSync("sha256", secret, auth, keyInfo, 32))
      const cek = Buffer.from(hkdfSync("sha256", ikm, salt, "Content-Encoding: aes128gcm\0", 16))
      const nonce = Buffer.from(hkdfSync("sha256", ikm, salt, "Content-Encoding: nonce\0", 12))
      const decipher = createDecipheriv("aes-128-gcm", cek, nonce)
      decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16))
      const padded = Buffer.concat([
        decipher.update(ciphertext.subarray(0, ciphertext.length - 16)),
        decipher.final(),
      ])
      // The last record ends with 0x02 and zero padding.
      let end = padded.length - 1
      while (end >= 0 && padded[end] === 0) end--
      if (padded[end] !== 2) throw new Error("no last-record delimiter")
      return padded.subarray(0, end).toString("utf8")
    },
  }
}

/** The VAPID claims of an `Authorization: vapid t=JWT, k=KEY` header, signature checked. */
export const verifyVapid = (
  header: string | undefined,
  expectedKey: string,
): { readonly aud: string; readonly exp: number; readonly sub: string } => {
  const match = /^vapid t=([^,\s]+),\s*k=([A-Za-z0-9_-]+)$/.exec(header ?? "")
  if (match === null) throw new Error(`not a VAPID authorization: ${header}`)
  const [, jwt = "", key = ""] = match
  if (key !== expectedKey) throw new Error("k is not the server's public key")
  const [head = "", claims = "", signature = ""] = jwt.split(".")
  const raw = Buffer.from(key, "base64url")
  const publicKey = createPublicKey({
    key: {
      kty: "EC",
      crv: "P-256",
      x: raw.subarray(1, 33).toString("base64url"),
      y: raw.subarray(33, 65).toString("base64url"),
    },
    format: "jwk",
  })
  const ok = verify(
    "sha256",
    Buffer.from(`${head}.${claims}`),
    { key: publicKey, dsaEncoding: "ieee-p1363" },
    Buffer.from(signature, "base64url"),
  )
  if (!ok) throw new Error("the VAPID JWT's signature does not verify")
  const header_ = JSON.parse(Buffer.from(head, "base64url").toString("utf8")) as { alg?: string }
  if (header_.alg !== "ES256") throw new Error(`alg ${header_.alg}`)
  return JSON.parse(Buffer.from(claims, "base64url").toString("utf8")) as {
    aud: string
    exp: number
    sub: string
  }
}
