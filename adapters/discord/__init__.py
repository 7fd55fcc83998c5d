"""The Discord adapter (discord.py 2.x). Only modules in this package import ``discord``.

discord.py imports the deprecated ``audioop`` for voice playback, which Kindred does not use;
importing it here, once, with that one warning silenced keeps ``-W error`` runs (the test
suite) working without hiding warnings from anything else.
"""

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore", message="'audioop' is deprecated", category=DeprecationWarning
    )
    import discord  # noqa: F401
