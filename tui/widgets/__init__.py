"""The reviewer TUI's own widgets."""
