import {
  AiRunnerError,
  AuthenticationError,
  ForbiddenError,
  GitOperationError,
  JournalError,
  LogStoreError,
  NotFoundError,
  ProcessMonitorError,
  PromptChangedError,
  StorageError,
  TierLimitError,
  TmuxSessionError,
  ValidationError,
} from "@geppetto/runner"
import { describe, expect, it } from "vitest"
import {
  DOMAIN_ERROR_STATUS,
  type DomainError,
  type DomainErrorTag,
  HttpError,
  toHttpError,
} from "../../src/http/domain-errors.js"

/** One instance of every domain error, keyed by tag: a tag missing here fails typecheck. */
const samples: { readonly [T in DomainErrorTag]: Extract<DomainError, { _tag: T }> } = {
  ValidationError: new ValidationError({ field: "name", message: "bad name" }),
  NotFoundError: new NotFoundError({ resource: "runner", id: "r1", message: "no runner r1" }),
  TierLimitError: new TierLimitError({
    provider: "claude",
    scope: "provider",
    limit: 1,
    message: "limit reached",
  }),
  AuthenticationError: new AuthenticationError({ message: "invalid token" }),
  ForbiddenError: new ForbiddenError({ required: "operator", message: "needs an operator" }),
  AiRunnerError: new AiRunnerError({ runnerId: "r1", provider: "shell", message: "finished" }),
  PromptChangedError: new PromptChangedError({
    runnerId: "r1",
    attentionId: "a1",
    message: "runner r1 now waits on another prompt than a1; nothing was typed",
  }),
  ProcessMonitorError: new ProcessMonitorError({ processId: "r1", message: "spawn failed" }),
  TmuxSessionError: new TmuxSessionError({ sessionName: "s", message: "tmux is gone" }),
  LogStoreError: new LogStoreError({ logDir: "/d", message: "cannot read" }),
  StorageError: new StorageError({ path: "/d", message: "disk full" }),
  JournalError: new JournalError({ path: "/d/journal", message: "journal broken" }),
  GitOperationError: new GitOperationError({
    command: "git -C /r worktree add",
    stderr: "fatal: a branch named 'x' already exists",
    message: "branch x exists",
  }),
}

describe("the error to HTTP mapping", () => {
  it("keeps every status and code of the contract", () => {
    const seen = Object.fromEntries(
      Object.values(samples).map((e) => {
        const http = toHttpError(e)
        return [e._tag, { status: http.statusCode, code: http.code }]
      }),
    )
    expect(seen).toEqual({
      ValidationError: { status: 400, code: "ValidationError" },
      NotFoundError: { status: 404, code: "NotFoundError" },
      TierLimitError: { status: 429, code: "TierLimitError" },
      AuthenticationError: { status: 401, code: "AuthenticationError" },
      ForbiddenError: { status: 403, code: "ForbiddenError" },
      AiRunnerError: { status: 409, code: "AiProviderOperationError" },
      PromptChangedError: { status: 409, code: "ConflictError" },
      ProcessMonitorError: { status: 500, code: "ProcessOperationError" },
      TmuxSessionError: { status: 503, code: "TmuxSessionError" },
      LogStoreError: { status: 500, code: "LogStoreError" },
      StorageError: { status: 507, code: "StorageError" },
      JournalError: { status: 500, code: "JournalError" },
      GitOperationError: { status: 409, code: "GitOperationError" },
    })
    expect(Object.keys(DOMAIN_ERROR_STATUS).sort()).toEqual(Object.keys(samples).sort())
  })

  it("carries the error's own message", () => {
    expect(toHttpError(samples.ForbiddenError).message).toBe("needs an operator")
  })

  it("hides anything it does not know behind a 500, prototype names included", () => {
    for (const e of [
      new Error("secret path /x"),
      { _tag: "toString", message: "m" },
      { _tag: "constructor", message: "m" },
      { _tag: "SomethingNew", message: "internal detail" },
      "text",
      undefined,
    ]) {
      const http = toHttpError(e)
      expect(http).toBeInstanceOf(HttpError)
      expect([http.statusCode, http.code, http.message]).toEqual([
        500,
        "InternalError",
        "internal error",
      ])
    }
  })
})
