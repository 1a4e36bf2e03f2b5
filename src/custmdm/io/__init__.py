"""Moving a register in and out whole: backup and restore (later: import and export)."""
