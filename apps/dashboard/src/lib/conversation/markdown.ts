import MarkdownIt from "markdown-it"

/**
 * Agent text is untrusted: a message may carry `<img onerror>` or a `javascript:` link,
 * written by the agent or pasted into it from a web page. markdown-it with `html: false`
 * escapes every tag in the source as text; links keep only http(s) and mailto targets (any
 * other stays as its literal source text); images are not rendered (no request leaves the
 * browser for an address an agent chose). The HTML this returns is safe for `{@html}`.
 */
const md = new MarkdownIt({ html: false, linkify: true, typographer: false })
md.disable("image")

const SAFE_LINK = /^(?:https?:\/\/|mailto:)/i
md.validateLink = (url: string): boolean => SAFE_LINK.test(url)

const renderToken = md.renderer.renderToken.bind(md.renderer)
md.renderer.rules.link_open = (tokens, idx, options) => {
  const token = tokens[idx]
  if (token !== undefined) {
    token.attrSet("target", "_blank")
    token.attrSet("rel", "noopener noreferrer nofollow")
  }
  return renderToken(tokens, idx, options)
}

/** Markdown from an agent as HTML that carries no markup of the agent's own. */
export const renderMarkdown = (text: string): string => md.render(text)
