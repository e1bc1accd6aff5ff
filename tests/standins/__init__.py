"""Stand-ins for the stores that cannot be installed here (Loki, Elasticsearch): aiohttp
servers on loopback that speak the documented HTTP API, and can fail on purpose."""
