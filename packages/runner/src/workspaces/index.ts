export { DEFAULT_DIFF_LIMITS, type DiffLimits } from "./diff.js"
export {
  type GitCommandRunner,
  GitCommandRunnerLive,
  GitCommandRunnerPort,
  type GitOutput,
  type GitRunOptions,
  makeGitCommandRunner,
} from "./git-command.js"
export type { MergeOptions } from "./merge.js"
export type { WorkTreeInfo } from "./repo.js"
export { type DiffOptions, Workspaces } from "./workspaces.js"
export type { CreateWorkspaceRequest } from "./worktree.js"
