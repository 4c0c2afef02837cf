"""Training data helpers: column-role validation, the collator and the batch samplers."""
