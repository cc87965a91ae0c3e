"""wann_engine: a fast, faithful Weight Agnostic Neural Network search.

Headless by design: nothing here imports the console (``wanntui``) or Textual.
"""

__version__ = "0.4.1"
