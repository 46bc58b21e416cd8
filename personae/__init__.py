"""personae: user behaviour data in, validated segments and data-driven personas out."""

__version__ = "0.1.0"
