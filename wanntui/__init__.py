"""wanntui: the terminal console for wann_engine runs."""
