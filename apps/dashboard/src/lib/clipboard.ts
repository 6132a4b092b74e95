/**
 * Copies text. `navigator.clipboard` needs a secure context (https or localhost); a LAN
 * dashboard on plain http falls back to a selected textarea and `execCommand("copy")`.
 */
export const copyText = async (text: string): Promise<boolean> => {
  if (window.isSecureContext && navigator.clipboard !== undefined) {
    try {
      await navigator.clipboard.writeText(text)
      return true
    } catch {
      // fall through: permission denied or not focused
    }
  }
  const area = document.createElement("textarea")
  area.value = text
  area.setAttribute("readonly", "")
  area.style.position = "fixed"
  area.style.opacity = "0"
  document.body.append(area)
  area.select()
  try {
    return document.execCommand("copy")
  } catch {
    return false
  } finally {
    area.remove()
  }
}
