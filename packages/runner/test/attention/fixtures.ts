/*
 * Screens as a capture-pane would return them (plain text, blank rows under the content),
 * drawn after the real CLIs' layouts. `screen` splits a template into lines.
 */

/** Lines of a fixture: drops the template's leading newline, keeps trailing blank rows. */
export const screen = (text: string): ReadonlyArray<string> => text.replace(/^\n/, "").split("\n")

const BLANK_ROWS = "\n".repeat(12)

export const claudePermission = screen(`
> clean the build output and run the tests

● I'll remove the build directory first.

✻ Puttering… (14s · ↑ 1.2k tokens · esc to interrupt)

╭──────────────────────────────────────────────────────────────────────────╮
│ Bash command                                                             │
│                                                                          │
│   rm -rf build                                                           │
│   Remove the build directory                                             │
│                                                                          │
│ Do you want to proceed?                                                  │
│ ❯ 1. Yes                                                                 │
│   2. Yes, and don't ask again for rm commands in /home/dev/project       │
│   3. No, and tell Claude what to do differently (esc)                    │
╰──────────────────────────────────────────────────────────────────────────╯
${BLANK_ROWS}`)

export const claudeEditPermission = screen(`
╭──────────────────────────────────────────────────────────────────────────╮
│ Edit file                                                                │
│ ╭──────────────────────────────────────────────────────────────────────╮ │
│ │ src/index.ts                                                         │ │
│ │                                                                      │ │
│ │ 1  - export const a = 1                                              │ │
│ │ 1  + export const a = 2                                              │ │
│ ╰──────────────────────────────────────────────────────────────────────╯ │
│ Do you want to make this edit to index.ts?                               │
│ ❯ 1. Yes                                                                 │
│   2. No, and tell Claude what to do differently (esc)                    │
╰──────────────────────────────────────────────────────────────────────────╯
`)

export const claudeBusy = screen(`
> refactor the session manager

● Reading src/tmux/session-manager.ts

✢ Thinking… (32s · ↓ 3.4k tokens · esc to interrupt)

╭──────────────────────────────────────────────────────────────────────────╮
│ >                                                                        │
╰──────────────────────────────────────────────────────────────────────────╯
  ⏵⏵ accept edits on (shift+tab to cycle)
${BLANK_ROWS}`)

export const claudeReady = screen(`
● Done. All 42 tests pass and the build directory is clean.

╭──────────────────────────────────────────────────────────────────────────╮
│ > Try "write a test for <filepath>"                                      │
╰──────────────────────────────────────────────────────────────────────────╯
  ? for shortcuts
${BLANK_ROWS}`)

export const codexApproval = screen(`
› run the migrations

• Running npm run migrate

  Would you like to run the following command?

  $ npm run migrate -- --force

› 1. Yes, proceed
  2. Yes, and don't ask again for this command
  3. No, and tell Codex what to do differently esc

  Press enter to confirm or esc to cancel
${BLANK_ROWS}`)

export const codexLegacyAllow = screen(`
▌ Allow command?
▌
▌ $ cargo test
▌
▌ > Yes   Always   No, provide feedback
`)

export const codexBusy = screen(`
› fix the flaky test

• Working (8s • Esc to interrupt)

› Ask Codex to do anything
  ⏎ send   ⌃J newline   ⌃T transcript   ⌃C quit
${BLANK_ROWS}`)

export const geminiConfirmation = screen(`
╭──────────────────────────────────────────────────────────────────────────╮
│ ?  Shell rm -rf dist (Remove the dist folder)                            │
│                                                                          │
│ rm -rf dist                                                              │
│                                                                          │
│ Allow execution?                                                         │
│                                                                          │
│ ● 1. Yes, allow once                                                     │
│   2. Yes, allow always ...                                               │
│   3. No, suggest changes (esc)                                           │
╰──────────────────────────────────────────────────────────────────────────╯

⠏ Waiting for user confirmation...

~/project (main*)        no sandbox (see /docs)        gemini-2.5-pro (99% context left)
${BLANK_ROWS}`)

export const geminiBusy = screen(`
✦ I will look at the failing test.

⠼ Analyzing the test suite (esc to cancel, 12s)

╭──────────────────────────────────────────────────────────────────────────╮
│ >   Type your message or @path/to/file                                   │
╰──────────────────────────────────────────────────────────────────────────╯
~/project (main*)        no sandbox (see /docs)        gemini-2.5-pro (98% context left)
`)

export const geminiReady = screen(`
✦ The test now passes.

╭──────────────────────────────────────────────────────────────────────────╮
│ >   Type your message or @path/to/file                                   │
╰──────────────────────────────────────────────────────────────────────────╯
~/project (main*)        no sandbox (see /docs)        gemini-2.5-pro (97% context left)
`)

export const opencodePermission = screen(`
  ┃  Edit src/app.ts
  ┃
  ┃  △ Permission required
  ┃    ← Edit src/app.ts
  ┃
  ┃  enter accept   a accept always   esc reject
${BLANK_ROWS}`)

export const shellYesNo = screen(`
$ ./deploy.sh staging
Building image geppetto:staging ... done
About to replace 3 running containers.
Continue? [y/N] 
${BLANK_ROWS}`)

export const aptContinue = screen(`
The following NEW packages will be installed:
  tmux
0 upgraded, 1 newly installed, 0 to remove and 3 not upgraded.
Need to get 426 kB of archives.
Do you want to continue? [Y/n] 
`)

/** A build log that mentions prompts in passing, and has since moved on. */
export const buildLog = screen(`
$ make release
Press Enter to continue (this line was printed by an old setup step)
checking whether to proceed with optimisations... yes
[1/8] Compiling protocol
[2/8] Compiling runner
[3/8] Compiling server
[4/8] Compiling web
[5/8] Linking
[6/8] Bundling assets
[7/8] Writing dist/
[8/8] Do you want to proceed? was answered by --yes
Build finished in 41.2s; the release can proceed to upload.
uploading: 37% ███████░░░░░░░░░░░░░
${BLANK_ROWS}`)

/** A tool's output scrolled past in Claude's transcript while it keeps working. */
export const claudeBusyWithPromptInTranscript = screen(`
● Bash(npm init)
  ⎿  Is this OK? (yes/no) yes
     Press Enter to continue
     Do you want to proceed? yes

✽ Crafting… (3s · esc to interrupt)

╭──────────────────────────────────────────────────────────────────────────╮
│ >                                                                        │
╰──────────────────────────────────────────────────────────────────────────╯
  ? for shortcuts
`)
