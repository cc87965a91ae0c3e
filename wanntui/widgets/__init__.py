"""The console's panes: each renders from a model snapshot when asked, never per event."""
