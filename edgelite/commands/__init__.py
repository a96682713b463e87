"""CLI subcommands, one module each.

Every module here defines:

- ``PATH``: the words that select it, e.g. ``("train", "accel")`` or ``("inspect",)``
- ``HELP``: one line for the parent's command list (the module docstring is the long ``--help``)
- ``configure(parser)``: add arguments (cheap: no TensorFlow or MediaPipe imports at module level)
- ``run(args) -> int``: do the work (import heavy packages here)

``edgelite.cli`` discovers the modules, so a new command is a new file.
"""
