"""The book: running the chapters and building the site (`runner`), the citable figure files
(`figures`) and the checks of the built site (`site_check`)."""
