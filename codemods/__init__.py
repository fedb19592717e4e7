"""codemods: migrations as lint rules and automatic fixes."""
