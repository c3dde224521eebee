"""``python -m iam_gov`` is the ``iam-gov`` command."""

from iam_gov.cli import main

main()
