"""The Textual app for reviewers (access-review campaigns come in a later issue)."""
