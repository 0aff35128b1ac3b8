"""The task's section of ``vivid demo`` (filled in below)."""
