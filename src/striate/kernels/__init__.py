"""The few hot primitives, each with a readable reference and, where measured faster,
a fast path."""
