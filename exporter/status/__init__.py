"""The status page: what it shows, in words and units, and its HTML."""
