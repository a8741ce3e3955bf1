"""Preference pairs (chapter 03): `build` turns ratings into (prompt, chosen, rejected) pairs for a
group under a condition (scale, aggregation, values); `report` counts and compares the groups'
pairs; `discrimination` tests whether groups that rate with different discrimination prefer
different responses; `plots` draws them."""
