"""The reviewer TUI's screens, one per module."""
