"""Behaviour of the fine-tuned models (chapters 05 and 06): samples from every model and the base
model on held-out prompts (`prompts`, `samples`, `collect`), their scores (`scores`: toxicity,
emotional awareness, every group's reward model), the statistics the claims C4–C8 need
(`metrics`, `groups`, `conditions`) and their figures (`plots`); `corpus` builds the response
corpus that the simulated raters rate."""
