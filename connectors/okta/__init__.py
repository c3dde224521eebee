"""Okta: users, groups, apps, factors, admin roles, password policies; live or API JSON."""

from iam_gov.connectors.okta.connector import OktaConnector, OktaOptions

__all__ = ["OktaConnector", "OktaOptions"]
