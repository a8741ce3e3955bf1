"""The language models: the embedded base model, its conversion and provenance (`base`), and
seeded, batched generation (`generate`)."""
