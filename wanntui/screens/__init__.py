"""The console's screens: run browser, live run view, new-run form, confirmation, help."""
