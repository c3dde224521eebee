"""The HR feed: the people who work here, from an HR system's CSV or JSON export."""

from iam_gov.connectors.hr.connector import HRConnector, HROptions

__all__ = ["HRConnector", "HROptions"]
