import { Either, ParseResult, Schema } from "effect"

/**
 * The journal's line format: `CRC32HEX LENGTH JSON\n`, one record per line.
 *
 * - `CRC32HEX` is the 8-digit lowercase CRC-32 (IEEE) of the JSON bytes,
 * - `LENGTH` is the byte length of the JSON in decimal,
 * - `JSON` never holds a raw newline (JSON.stringify escapes them), so `\n` ends a record.
 *
 * Length and checksum together tell a torn tail (a write cut short) and a flipped byte from a
 * good record. `test/journal/fixtures/journal-writer.mjs` writes the same format on its own.
 */

/** Opaque payload of a "runner" record: the caller's RunnerSummary plus metrics. */
export const JournalData = Schema.Record({ key: Schema.String, value: Schema.Unknown })
export type JournalData = typeof JournalData.Type

const common = {
  seq: Schema.Int.pipe(Schema.nonNegative()),
  at: Schema.Number,
  runnerId: Schema.String.pipe(Schema.minLength(1)),
}

export const RunnerRecord = Schema.Struct({
  ...common,
  type: Schema.Literal("runner"),
  data: JournalData,
})
export type RunnerRecord = typeof RunnerRecord.Type

export const RemovedRecord = Schema.Struct({ ...common, type: Schema.Literal("removed") })
export type RemovedRecord = typeof RemovedRecord.Type

export const JournalRecord = Schema.Union(RunnerRecord, RemovedRecord)
export type JournalRecord = typeof JournalRecord.Type

/** A line that did not decode: 1-based line number and why. */
export interface SkippedRecord {
  readonly line: number
  readonly reason: string
}

export interface DecodedJournal {
  readonly records: ReadonlyArray<JournalRecord>
  readonly skipped: ReadonlyArray<SkippedRecord>
  /** Whether the bytes end mid-line: the next append must start on a fresh line. */
  readonly tornTail: boolean
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

/** CRC-32 (IEEE, as zlib); own code because `zlib.crc32` needs Node 20.15+. */
export const crc32 = (bytes: Uint8Array): number => {
  let crc = 0xffffffff
  for (const b of bytes) crc = (CRC_TABLE[(crc ^ b) & 0xff] ?? 0) ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

const NL = Buffer.from("\n", "ascii")
const hex8 = (n: number) => n.toString(16).padStart(8, "0")

/** One journal line, newline included. Key order is fixed so equal records give equal bytes. */
export const encodeRecord = (record: JournalRecord): Buffer => {
  const ordered =
    record.type === "runner"
      ? {
          seq: record.seq,
          at: record.at,
          type: record.type,
          runnerId: record.runnerId,
          data: record.data,
        }
      : { seq: record.seq, at: record.at, type: record.type, runnerId: record.runnerId }
  const json = Buffer.from(JSON.stringify(ordered), "utf8")
  return Buffer.concat([Buffer.from(`${hex8(crc32(json))} ${json.length} `, "ascii"), json, NL])
}

const HEADER = /^([0-9a-f]{8}) (0|[1-9][0-9]{0,9}) /
const decodeShape = Schema.decodeUnknownEither(JournalRecord)

/** Decodes one line (without its newline): the record, or why it was skipped. */
export const decodeLine = (line: Buffer): Either.Either<JournalRecord, string> => {
  // The header is ASCII: latin1 keeps byte offsets equal to string offsets.
  const header = HEADER.exec(line.subarray(0, 24).toString("latin1"))
  if (header === null) return Either.left("malformed header")
  const [whole, crcHex = "", lengthText = ""] = header
  const json = line.subarray(whole.length)
  const length = Number(lengthText)
  if (json.length !== length) {
    return Either.left(`length mismatch: header says ${length}, line has ${json.length}`)
  }
  if (hex8(crc32(json)) !== crcHex) return Either.left("checksum mismatch")
  let value: unknown
  try {
    value = JSON.parse(json.toString("utf8"))
  } catch (e) {
    return Either.left(`bad JSON: ${e instanceof Error ? e.message : String(e)}`)
  }
  return Either.mapLeft(
    decodeShape(value),
    (error) => `bad shape: ${ParseResult.TreeFormatter.formatErrorSync(error)}`,
  )
}

/**
 * Decodes a whole journal. Never throws: every line that is not a valid record is reported
 * in `skipped` and the rest still load. Empty lines are separators written after a torn
 * tail, not records, and are passed over silently.
 */
export const decodeJournal = (bytes: Uint8Array): DecodedJournal => {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const records: Array<JournalRecord> = []
  const skipped: Array<SkippedRecord> = []
  let start = 0
  let line = 0
  while (start < buffer.length) {
    line++
    const end = buffer.indexOf(0x0a, start)
    if (end === -1) {
      skipped.push({ line, reason: "torn last line (no newline)" })
      return { records, skipped, tornTail: true }
    }
    if (end > start) {
      const decoded = decodeLine(buffer.subarray(start, end))
      if (Either.isRight(decoded)) records.push(decoded.right)
      else skipped.push({ line, reason: decoded.left })
    }
    start = end + 1
  }
  return { records, skipped, tornTail: false }
}

/** Folds records in file order: the latest "runner" record per id wins, "removed" deletes. */
export const foldRecords = (records: ReadonlyArray<JournalRecord>): Map<string, RunnerRecord> => {
  const state = new Map<string, RunnerRecord>()
  for (const record of records) {
    if (record.type === "runner") {
      // Re-insert so the map's order is the order of last update.
      state.delete(record.runnerId)
      state.set(record.runnerId, record)
    } else state.delete(record.runnerId)
  }
  return state
}
