"""``python -m personae.cli``: the same command line as ``personae``, where no script is on
PATH (a notebook's kernel, a virtual environment not activated)."""

from personae.cli import main

main()
