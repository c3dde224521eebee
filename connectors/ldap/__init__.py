"""LDAP: Active Directory or OpenLDAP users and groups, live through ldap3 or from LDIF."""

from iam_gov.connectors.ldap.connector import LDAPConnector, LDAPOptions

__all__ = ["LDAPConnector", "LDAPOptions"]
