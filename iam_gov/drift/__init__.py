"""Drift reports: what changed in who-has-what since a baseline, and what is out of policy now.

``model`` is the report (one pydantic model, also the JSON format, whose JSON Schema is
published); ``baseline`` names what a report compares with (the previous run, a date, a pinned
name); ``compute`` works the report out from the store; ``render_*`` write it as Markdown, a
self-contained HTML page with charts, JSON and CSV; ``deliver`` sends it on; ``retention``
prunes old snapshots and reports, never what is still referred to. Headless.
"""
