"""Statistics of the ratings: gaps between groups, their uncertainty, level and discrimination."""
