"""Access-review campaigns: define, launch a frozen population, decide, remind, close with
evidence. Headless: the TUI (``iam_gov.tui``) and the CLI are thin layers over these functions."""
