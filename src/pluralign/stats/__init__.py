"""Statistics shared by the stages to the right of `data`: percentile intervals and bootstrap
p-values (`intervals`), multiple testing and permutation tests (`testing`), seed derivation
(`seeds`), rater × item cluster bootstraps (`rater_item`) and mixed and ordinal models (`mixed`).
Each is written once here, so every chapter's numbers come from the same arithmetic.
"""
