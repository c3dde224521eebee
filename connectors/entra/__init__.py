"""Microsoft Entra ID: users, groups, directory and app roles, live through Graph or JSON."""

from iam_gov.connectors.entra.connector import EntraConnector, EntraOptions

__all__ = ["EntraConnector", "EntraOptions"]
