"""AWS IAM: users, roles, groups, policies and keys, live through boto3 or from CLI exports."""

from iam_gov.connectors.aws.connector import AWSConnector, AWSOptions

__all__ = ["AWSConnector", "AWSOptions"]
