import { describe, expect, it } from "vitest"
import { renderMarkdown } from "./markdown"

const TAGS = new Set([
  ..."p em strong code pre a ul ol li blockquote h1 h2 h3 h4 h5 h6 hr br s".split(" "),
  ..."table thead tbody tr th td".split(" "),
])
const ATTRIBUTES = new Set(["href", "target", "rel", "title", "class", "start", "style"])

/** Every tag and attribute in `html` (markdown-it quotes every value and escapes `"` in it). */
const markup = (html: string) =>
  [...html.matchAll(/<\/?([A-Za-z][A-Za-z0-9]*)((?:\s+[^\s=>]+(?:="[^"]*")?)*)\s*\/?>/g)].map(
    ([, tag = "", attrs = ""]) => ({
      tag: tag.toLowerCase(),
      attrs: [...attrs.matchAll(/([^\s=]+)(?:="([^"]*)")?/g)].map(([, name = "", value = ""]) => ({
        name: name.toLowerCase(),
        value,
      })),
    }),
  )

/** Nothing but the tags and attributes markdown makes, and links to http(s)/mailto only. */
const expectInert = (html: string) => {
  // Any `<` left is one markdown-it wrote: the agent's own became `&lt;`.
  const tags = markup(html)
  expect(tags.length).toBe((html.match(/</g) ?? []).length)
  for (const { tag, attrs } of tags) {
    expect(TAGS, `tag <${tag}> in ${html}`).toContain(tag)
    for (const { name, value } of attrs) {
      expect(ATTRIBUTES, `attribute ${name} in ${html}`).toContain(name)
      if (name === "href") expect(value).toMatch(/^(https?:\/\/|mailto:)/)
      if (name === "style") expect(value).toMatch(/^text-align:(left|right|center)$/)
    }
  }
}

const HOSTILE = [
  "<img src=x onerror=alert(1)>",
  "hi <script>alert(1)</script> there",
  "<script>\nalert(1)\n</script>",
  "[click](javascript:alert(1))",
  "[click](JaVaScRiPt:alert(1))",
  "[click](&#x6A;avascript:alert(1))",
  "[click](javascript&colon;alert(1))",
  "<javascript:alert(1)>",
  "[data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
  "[vb](vbscript:msgbox(1))",
  '[t](https://example.com "x\\" onmouseover=\\"alert(1)")',
  "![pixel](https://tracker.example/p.gif)",
  '<a href="javascript:alert(1)">a</a>',
  "<iframe src=https://example.com></iframe>",
  '<div style="background:url(javascript:alert(1))">x</div>',
  "```\n<img src=x onerror=alert(1)>\n```",
  "`<svg onload=alert(1)>`",
  "| a | b |\n|:-:|--:|\n| <b onclick=x()>1</b> | 2 |",
]

describe("renderMarkdown", () => {
  it("renders an agent's markdown", () => {
    expect(renderMarkdown("Running **tests** in `src/`")).toBe(
      "<p>Running <strong>tests</strong> in <code>src/</code></p>\n",
    )
    expect(renderMarkdown("- one\n- two")).toContain("<li>one</li>")
  })

  it.each(HOSTILE)("leaves %j inert", (text) => {
    const html = renderMarkdown(text)
    expectInert(html)
    expect(html).not.toMatch(/<(img|script|iframe|svg|div|b)\b/i)
    expect(html).not.toMatch(/href="(?!https?:\/\/|mailto:)/i)
  })

  it("shows raw HTML as the text it is", () => {
    expect(renderMarkdown("<img src=x onerror=alert(1)>")).toBe(
      "<p>&lt;img src=x onerror=alert(1)&gt;</p>\n",
    )
    expect(renderMarkdown("<script>alert(1)</script>")).toBe(
      "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n",
    )
  })

  it("keeps a javascript: link as its source text, not a link", () => {
    const html = renderMarkdown("[click](javascript:alert(1))")
    expect(html).not.toContain("<a")
    expect(html).toBe("<p>[click](javascript:alert(1))</p>\n")
  })

  it("opens http(s) and mailto links in a new tab without an opener", () => {
    expect(renderMarkdown("[docs](https://example.com/a?b=1)")).toBe(
      '<p><a href="https://example.com/a?b=1" target="_blank" rel="noopener noreferrer nofollow">docs</a></p>\n',
    )
    expect(renderMarkdown("see http://example.com")).toContain(
      '<a href="http://example.com" target="_blank" rel="noopener noreferrer nofollow">',
    )
    expect(renderMarkdown("[me](mailto:a@example.com)")).toContain('href="mailto:a@example.com"')
    // A relative link would navigate the dashboard itself: kept as text.
    expect(renderMarkdown("[file](src/app.ts)")).not.toContain("<a")
  })

  it("draws no image: an address an agent chose is never fetched", () => {
    expect(renderMarkdown("![pixel](https://tracker.example/p.gif)")).not.toContain("<img")
  })
})
