"""Files copied next to exported networks (see ``wann_engine.export``); each needs only numpy."""
