"""The HTTP side: handlers, middleware, auth, scraping, health+json, OpenAPI, access log."""
