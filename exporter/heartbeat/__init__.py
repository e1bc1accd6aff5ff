"""The outbound heartbeat: after each run, a push to a Pushgateway and/or a ping of a URL, so
that a dead exporter is noticed by what no longer arrives."""
