import type { ScreenRuleFileJson } from "./rules.js"

/*
 * Builtin screen rules, as plain data in the same shape as a user's JSON file (decoded by
 * the same Schema at load). TS modules rather than .json so the build output carries them.
 *
 * Priority bands: provider waiting 100+, busy 50, generic waiting 40, ready 20. Busy sits
 * above ready because the prompt box stays drawn while the agent works; waiting sits above
 * busy because the spinner stays drawn while a permission prompt is up.
 */

// Case-tolerant "esc to interrupt" ("Esc to interrupt" in Codex, "esc interrupt" in OpenCode).
const ESC_TO_INTERRUPT = "\\b[Ee]sc(?: to)? interrupt\\b"
const ESC = "\u001b"

const claude: ScreenRuleFileJson = {
  provider: "claude",
  rules: [
    {
      // Bash/edit/write permission dialog with three options.
      id: "claude.permission",
      kind: "waiting",
      reason: "permission",
      priority: 110,
      region: { from: "bottom", lines: 30 },
      all: [
        "Do you want to (?:proceed\\?|make this edit|create |allow |run )",
        "^[\\s│┃|]*❯\\s*1\\.\\s",
        "^[\\s│┃|❯]*2\\.\\s+Yes",
      ],
      answers: [
        { label: "Yes", keys: "1" },
        { label: "Yes, don't ask again", keys: "2" },
        { label: "No", keys: ESC },
      ],
    },
    {
      // Same dialog without the "don't ask again" option; the richer rule above outranks it.
      id: "claude.permission-yes-no",
      kind: "waiting",
      reason: "permission",
      priority: 100,
      region: { from: "bottom", lines: 30 },
      all: [
        "Do you want to (?:proceed\\?|make this edit|create |allow |run )",
        "^[\\s│┃|]*❯\\s*1\\.\\s",
      ],
      answers: [
        { label: "Yes", keys: "1" },
        { label: "No", keys: ESC },
      ],
    },
    {
      id: "claude.busy",
      kind: "busy",
      priority: 50,
      // The spinner line sits above the prompt box and, at times, a todo list.
      region: { from: "bottom", lines: 25 },
      all: [ESC_TO_INTERRUPT],
    },
    {
      // Empty prompt box (placeholder suggestion allowed) between rounded borders.
      id: "claude.ready",
      kind: "ready",
      reason: "ready",
      priority: 20,
      region: { from: "bottom", lines: 8 },
      all: ["^\\s*╭─", '^\\s*│\\s*>\\s*(?:Try ".*")?\\s*│?\\s*$', "^\\s*╰─"],
      none: [ESC_TO_INTERRUPT, "Do you want to "],
    },
    {
      // Newer layout: the prompt line between two horizontal rules, no side borders.
      id: "claude.ready-rules",
      kind: "ready",
      reason: "ready",
      priority: 20,
      region: { from: "bottom", lines: 6 },
      all: ["^\\s*─{20,}\\s*$", '^\\s*>\\s*(?:Try ".*")?\\s*$'],
      none: [ESC_TO_INTERRUPT, "Do you want to "],
    },
  ],
}

const codex: ScreenRuleFileJson = {
  provider: "codex",
  rules: [
    {
      id: "codex.confirm",
      kind: "waiting",
      reason: "permission",
      priority: 110,
      region: { from: "bottom", lines: 20 },
      all: ["[Pp]ress enter to confirm or esc to cancel"],
      // The dialog says what the keys do, whatever the option list looks like.
      answers: [
        { label: "Yes", keys: "\r" },
        { label: "No", keys: ESC },
      ],
    },
    {
      id: "codex.allow",
      kind: "waiting",
      reason: "permission",
      priority: 100,
      region: { from: "bottom", lines: 20 },
      all: [
        "Allow command\\?|Would you like to (?:run the following command|make the following edits)\\?",
      ],
      answers: [
        { label: "Yes", keys: "\r" },
        { label: "No", keys: ESC },
      ],
    },
    {
      id: "codex.busy",
      kind: "busy",
      priority: 50,
      region: { from: "bottom", lines: 15 },
      all: [ESC_TO_INTERRUPT],
    },
  ],
}

// Gemini CLI and its fork Qwen Code share the TUI wording.
const geminiFamily = (provider: string): ScreenRuleFileJson => ({
  provider,
  rules: [
    {
      id: `${provider}.confirmation`,
      kind: "waiting",
      reason: "permission",
      priority: 100,
      region: { from: "bottom", lines: 30 },
      all: ["Waiting for user confirmation"],
      answers: [
        { label: "Yes, allow once", keys: "1" },
        { label: "Yes, allow always", keys: "2" },
        { label: "No", keys: ESC },
      ],
    },
    {
      id: `${provider}.busy`,
      kind: "busy",
      priority: 50,
      region: { from: "bottom", lines: 15 },
      all: ["\\([Ee]sc to cancel\\b"],
    },
    {
      id: `${provider}.ready`,
      kind: "ready",
      reason: "ready",
      priority: 20,
      region: { from: "bottom", lines: 10 },
      all: ["Type your message or @path/to/file"],
      none: ["[Ee]sc to cancel", "Waiting for user confirmation"],
    },
  ],
})

const opencode: ScreenRuleFileJson = {
  provider: "opencode",
  rules: [
    {
      id: "opencode.permission",
      kind: "waiting",
      reason: "permission",
      priority: 100,
      region: { from: "bottom", lines: 25 },
      all: ["\\bPermission required\\b"],
      answers: [
        { label: "Accept", keys: "\r" },
        { label: "Reject", keys: ESC },
      ],
    },
    {
      id: "opencode.busy",
      kind: "busy",
      priority: 50,
      region: { from: "bottom", lines: 10 },
      all: [ESC_TO_INTERRUPT],
    },
  ],
}

const aider: ScreenRuleFileJson = {
  provider: "aider",
  rules: [
    {
      // "Add file to the chat? (Y)es/(N)o/(D)on't ask again [Yes]:"
      id: "aider.confirm",
      kind: "waiting",
      reason: "question",
      priority: 100,
      region: { from: "bottom", lines: 3 },
      all: ["\\(Y\\)es/\\(N\\)o"],
      answers: [
        { label: "Yes", keys: "y\r" },
        { label: "No", keys: "n\r" },
      ],
    },
  ],
}

/*
 * Applies to every provider. Small bottom regions: a real question is where the cursor is,
 * on the last lines; the same words higher up are scrollback.
 */
export const genericRules: ScreenRuleFileJson = {
  provider: "generic",
  rules: [
    {
      id: "generic.yes-no",
      kind: "waiting",
      reason: "question",
      priority: 40,
      region: { from: "bottom", lines: 2 },
      // The choice ends the line (maybe a default like "[n]" or a colon): the cursor waits there.
      all: [
        "(?:\\[[Yy]/[Nn]\\]|\\([Yy]/[Nn]\\)|[[(][Yy]es/[Nn]o[\\])])\\s*(?:\\[\\w*\\])?\\s*[:?>]?\\s*$",
      ],
      answers: [
        { label: "Yes", keys: "y\r" },
        { label: "No", keys: "n\r" },
      ],
    },
    {
      id: "generic.press-enter",
      kind: "waiting",
      reason: "question",
      priority: 40,
      region: { from: "bottom", lines: 2 },
      all: ["\\b[Pp]ress (?:[Ee]nter|ENTER|[Rr]eturn|RETURN|any key)\\b"],
      answers: [{ label: "Continue", keys: "\r" }],
    },
    {
      id: "generic.proceed",
      kind: "waiting",
      reason: "question",
      priority: 40,
      region: { from: "bottom", lines: 3 },
      all: ["\\bDo you want to (?:proceed|continue)\\?\\s*(?:\\[[^\\]]*\\]|\\([^)]*\\))?\\s*$"],
    },
  ],
}

/** Builtin rule files by provider; `generic` is added to every provider by the loader. */
export const builtinRuleFiles: Readonly<Record<string, ScreenRuleFileJson>> = {
  claude,
  codex,
  gemini: geminiFamily("gemini"),
  qwen: geminiFamily("qwen"),
  opencode,
  aider,
  generic: genericRules,
}
