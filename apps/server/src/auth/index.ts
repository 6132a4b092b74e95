export {
  cookieValues,
  SESSION_COOKIE,
  SESSION_TTL_MS,
  signSession,
  verifySession,
} from "./credentials.js"
export { checkOrigin, isWebSocketUpgrade } from "./origin.js"
export {
  AUTH_LEVELS,
  type AuthContext,
  type AuthLevel,
  type AuthOptions,
  type AuthRoute,
  listAuthRoutes,
  registerAuth,
} from "./plugin.js"
export { FixedWindowLimiter } from "./rate-limit.js"
export { generateToken, SecretFileError } from "./secret-files.js"
export {
  contentSecurityPolicy,
  dashboardScriptHashes,
  inlineScriptHashes,
  registerSecurityHeaders,
} from "./security-headers.js"
export {
  type LoadedTokens,
  loadSessionSecret,
  loadTokens,
  MIN_RECOMMENDED_TOKEN_LENGTH,
  SESSION_SECRET_FILE,
  TOKENS_FILE,
  type Tokens,
} from "./tokens.js"
export { REVOKED_CLOSE_CODE, UserSockets } from "./user-sockets.js"
export {
  BUILTIN_USERS,
  hashToken,
  OWNER,
  roleAtLeast,
  USERS_FILE,
  type UserEntry,
  UserStore,
  VIEWER,
} from "./users.js"
