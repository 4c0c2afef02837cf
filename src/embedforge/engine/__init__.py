"""GPU training and encoding engine: token cache, variable-length (unpadded) layouts, device defaults.

The pieces keep sentence-transformers' results (tested equal on CPU) and move work off the GPU's critical path:
texts tokenized once per dataset, packed layouts computed on the CPU side by the collator (no device-to-host
synchronisation in a step), attention over variable-length sequences.
"""
