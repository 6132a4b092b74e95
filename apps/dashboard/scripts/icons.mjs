// Draws the app's icons (the manifest's 192 and 512 px, a maskable 512 px, the 180 px
// apple-touch-icon) into static/icons/ as PNGs: the header's terminal glyph, white on the
// accent blue. Plain code and node:zlib, no image library: `node scripts/icons.mjs`. The PNGs
// are committed; run it again only to change the design.
import { writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { deflateSync } from "node:zlib"

const out = join(dirname(fileURLToPath(import.meta.url)), "..", "static", "icons")
const BLUE = [0x2f, 0x6f, 0xdb]
const WHITE = [0xff, 0xff, 0xff]

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})
const crc32 = (bytes) => {
  let c = 0xffffffff
  for (const b of bytes) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}
const chunk = (type, data) => {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(data.length, 0)
  head.write(type, 4, "ascii")
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0)
  return Buffer.concat([head, data, crc])
}
/** An RGBA image as a PNG (colour type 6, no interlace, filter 0 on every row). */
const png = (size, rgba) => {
  const header = Buffer.alloc(13)
  header.writeUInt32BE(size, 0)
  header.writeUInt32BE(size, 4)
  header.set([8, 6, 0, 0, 0], 8)
  const rows = Buffer.alloc(size * (size * 4 + 1))
  for (let y = 0; y < size; y++)
    rgba.copy(rows, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4)
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(rows, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ])
}

const segDistance = (px, py, [ax, ay], [bx, by]) => {
  const dx = bx - ax
  const dy = by - ay
  const t = Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy))
}

/**
 * One icon on a unit square: the background (a rounded square, or full bleed for maskable),
 * then the glyph (a chevron and a cursor bar, round-capped strokes) scaled into `glyphBox`.
 * 4 x 4 samples a pixel for smooth edges.
 */
const draw = (size, { radius, glyphBox }) => {
  const rgba = Buffer.alloc(size * size * 4)
  const strokes = [
    [
      [0.22, 0.3],
      [0.47, 0.5],
    ],
    [
      [0.47, 0.5],
      [0.22, 0.7],
    ],
    [
      [0.55, 0.72],
      [0.8, 0.72],
    ],
  ]
  const half = 0.075
  const S = 4
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let bg = 0
      let fg = 0
      for (let sy = 0; sy < S; sy++) {
        for (let sx = 0; sx < S; sx++) {
          const u = (x + (sx + 0.5) / S) / size
          const v = (y + (sy + 0.5) / S) / size
          const cx = Math.min(Math.max(u, radius), 1 - radius)
          const cy = Math.min(Math.max(v, radius), 1 - radius)
          if (Math.hypot(u - cx, v - cy) > radius) continue
          bg++
          const gu = (u - glyphBox.x) / glyphBox.size
          const gv = (v - glyphBox.y) / glyphBox.size
          if (strokes.some(([a, b]) => segDistance(gu, gv, a, b) <= half)) fg++
        }
      }
      const i = (y * size + x) * 4
      const f = fg / (S * S)
      for (let c = 0; c < 3; c++)
        rgba[i + c] = Math.round(
          BLUE[c] * (1 - f / (bg / (S * S) || 1)) + WHITE[c] * (f / (bg / (S * S) || 1)),
        )
      rgba[i + 3] = Math.round((255 * bg) / (S * S))
    }
  }
  return png(size, rgba)
}

const regular = { radius: 0.2, glyphBox: { x: 0, y: 0, size: 1 } }
// Maskable: full bleed, the glyph inside the 80% safe circle.
const maskable = { radius: 0, glyphBox: { x: 0.15, y: 0.15, size: 0.7 } }
// iOS rounds the corners itself and shows transparency as black: full bleed.
const apple = { radius: 0, glyphBox: { x: 0.08, y: 0.08, size: 0.84 } }

writeFileSync(join(out, "icon-192.png"), draw(192, regular))
writeFileSync(join(out, "icon-512.png"), draw(512, regular))
writeFileSync(join(out, "maskable-512.png"), draw(512, maskable))
writeFileSync(join(out, "apple-touch-icon.png"), draw(180, apple))
console.log(`icons written to ${out}`)
