/** The page's own title; the layout prefixes the count of runners waiting. */
class PageTitle {
  value = $state("")
}

export const pageTitle = new PageTitle()
