"""trailwarden domain package: detections, remediations, notifications, approvals.

Nothing in here reads ``os.environ`` or creates AWS clients on its own: settings
and clients are passed in by the thin Lambda handlers in ``functions/handlers``.
"""
