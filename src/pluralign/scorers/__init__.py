"""The scorers of replies: the offline toxicity scorer and its Detoxify and profanity
alternatives (`toxicity`, fitted by `toxicity_training`), the emotional-awareness proxy with its
lexicon as data (`emotional_awareness`, `lexicon/`), sentence embeddings (`embeddings`), and their
validation (`validation`, `reports`). Each is a proxy and is named as one wherever it appears."""
