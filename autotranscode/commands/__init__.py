"""One module per `autotranscode` subcommand; each exposes ``register(subparsers)``.

A command module's ``register`` adds its parser and sets ``func`` (called with the parsed args, returns an exit code).
Keep imports of heavy libraries inside the command functions so ``--help`` stays fast.
"""
