import { Either, ParseResult, Schema } from "effect"
import { crc32 } from "../journal/records.js"
import { type AuditEntry, AuditEntry as AuditEntrySchema } from "./audit-entry.js"

/**
 * The trail's line format is the journal's (`journal/records.ts`): `CRC32HEX LENGTH JSON\n`.
 *
 * - `CRC32HEX` is the 8-digit lowercase CRC-32 (IEEE) of the JSON bytes (the journal's `crc32`),
 * - `LENGTH` is the byte length of the JSON in decimal,
 * - `JSON` is one entry; JSON.stringify escapes newlines, NUL and every other control
 *   character, so no field content can end a line early or hide one inside another.
 *
 * A torn last line (a write cut short) fails the length check, a flipped byte the checksum.
 */

const NL = Buffer.from("\n", "ascii")
const hex8 = (n: number) => n.toString(16).padStart(8, "0")

/** One line of the trail, newline included; key order fixed so equal entries give equal bytes. */
export const encodeAuditLine = (entry: AuditEntry): Buffer => {
  const ordered = {
    at: entry.at,
    user: entry.user,
    action: entry.action,
    runnerId: entry.runnerId,
    detail: entry.detail,
    address: entry.address,
  }
  const json = Buffer.from(JSON.stringify(ordered), "utf8")
  return Buffer.concat([Buffer.from(`${hex8(crc32(json))} ${json.length} `, "ascii"), json, NL])
}

const HEADER = /^([0-9a-f]{8}) (0|[1-9][0-9]{0,9}) /

/** Checks one line's framing (without its newline) and parses its JSON, not yet its shape. */
export const parseAuditLine = (line: Uint8Array): Either.Either<unknown, string> => {
  const buffer = Buffer.from(line.buffer, line.byteOffset, line.byteLength)
  // The header is ASCII: latin1 keeps byte offsets equal to string offsets.
  const header = HEADER.exec(buffer.subarray(0, 24).toString("latin1"))
  if (header === null) return Either.left("malformed header")
  const [whole, crcHex = "", lengthText = ""] = header
  const json = buffer.subarray(whole.length)
  const length = Number(lengthText)
  if (json.length !== length) {
    return Either.left(`length mismatch: header says ${length}, line has ${json.length}`)
  }
  if (hex8(crc32(json)) !== crcHex) return Either.left("checksum mismatch")
  try {
    return Either.right(JSON.parse(json.toString("utf8")))
  } catch (e) {
    return Either.left(`bad JSON: ${e instanceof Error ? e.message : String(e)}`)
  }
}

const decodeShape = Schema.decodeUnknownEither(AuditEntrySchema)

/** The entry of a parsed line, or why its shape is wrong. */
export const decodeAuditValue = (value: unknown): Either.Either<AuditEntry, string> =>
  Either.mapLeft(
    decodeShape(value),
    (error) => `bad shape: ${ParseResult.TreeFormatter.formatErrorSync(error)}`,
  )

/** Decodes one line (without its newline): the entry, or why it is skipped. */
export const decodeAuditLine = (line: Uint8Array): Either.Either<AuditEntry, string> =>
  Either.flatMap(parseAuditLine(line), decodeAuditValue)

/** `audit-000042.log`: the segment's number, zero-padded to six digits (more past 999999). */
export const segmentFileName = (n: number): string => `audit-${String(n).padStart(6, "0")}.log`

const SEGMENT_NAME = /^audit-([0-9]{6,15})\.log$/

/** The number of a segment file name, `undefined` for any other file. */
export const segmentNumber = (name: string): number | undefined => {
  const match = SEGMENT_NAME.exec(name)
  return match?.[1] === undefined ? undefined : Number(match[1])
}
