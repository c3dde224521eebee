"""iam-gov: identity and access governance. Who has what access, should they, and who said so?"""

__version__ = "0.1.0"
