import { Effect, Schema } from "effect"

/** Starting one more runner would go past a per-provider or per-account concurrency limit. */
export class TierLimitError extends Schema.TaggedError<TierLimitError>()("TierLimitError", {
  provider: Schema.String,
  accountId: Schema.optional(Schema.String),
  /** Which limit was hit. */
  scope: Schema.Literal("provider", "account"),
  limit: Schema.Number,
  message: Schema.String,
}) {}

export interface RunnerSlot {
  readonly provider: string
  readonly accountId?: string | undefined
}

export interface ConcurrencyLimits {
  /** Max live runners per provider id. */
  readonly perProvider?: Readonly<Record<string, number>>
  /** Max live runners per account id (an account belongs to one provider). */
  readonly perAccount?: Readonly<Record<string, number>>
}

/** Fails when `request` would be one runner too many for its provider's or account's limit. */
export const checkLimits = (input: {
  readonly running: ReadonlyArray<RunnerSlot>
  readonly request: RunnerSlot
  readonly limits: ConcurrencyLimits
}): Effect.Effect<void, TierLimitError> => {
  const { running, request, limits } = input
  const accountId = request.accountId
  const withAccount = accountId === undefined ? {} : { accountId }

  const providerLimit = limits.perProvider?.[request.provider]
  if (providerLimit !== undefined) {
    const count = running.filter((r) => r.provider === request.provider).length
    if (count >= providerLimit)
      return Effect.fail(
        new TierLimitError({
          provider: request.provider,
          ...withAccount,
          scope: "provider",
          limit: providerLimit,
          message: `provider ${request.provider} is limited to ${providerLimit} running runner(s) (perProvider.${request.provider}); ${count} running`,
        }),
      )
  }

  const accountLimit = accountId === undefined ? undefined : limits.perAccount?.[accountId]
  if (accountId !== undefined && accountLimit !== undefined) {
    const count = running.filter((r) => r.accountId === accountId).length
    if (count >= accountLimit)
      return Effect.fail(
        new TierLimitError({
          provider: request.provider,
          accountId,
          scope: "account",
          limit: accountLimit,
          message: `account ${accountId} is limited to ${accountLimit} running runner(s) (perAccount.${accountId}); ${count} running`,
        }),
      )
  }
  return Effect.void
}
