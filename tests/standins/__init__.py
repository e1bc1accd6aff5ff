"""Stand-ins for the stores that cannot be installed here (Loki, Elasticsearch): aiohttp
servers on loopback that speak the documented HTTP API, and can fail on purpose; and a load
balancer to put in front of one, that drops connections on purpose."""
