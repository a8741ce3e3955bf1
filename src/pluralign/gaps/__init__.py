"""Rating gaps between demographic groups (chapter 02): the contrasts (`contrasts`), relative gaps
with rater × item bootstrap intervals and the level/discrimination split (`estimate`), mixed and
ordinal model checks (`models`), the chapter's tables (`report`) and figures (`plots`)."""
