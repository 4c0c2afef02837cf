"""Training: arguments, the Trainer subclass, dataloaders and optimizer groups."""
