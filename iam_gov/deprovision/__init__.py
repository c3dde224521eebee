"""Deprovisioning: one leaver (or a closed review's revocations), every system, plan then apply.

``planner`` turns people into a ``plan.Plan`` of connector actions from the latest snapshots;
``guards`` say what a run may not do (break-glass accounts, mass changes, stale or incomplete
data); ``executor`` applies a plan through the connectors' ``apply()`` and records every step;
``verify`` re-reads the systems acted on; ``events`` reads HR events; ``leavers`` reports how
long access took to end. Headless: the CLI (``iam_gov/cli_deprovision.py``) and the HR
webhook only call these.
"""
