"""Fine-tuning (chapter 04): run specs and sweep profiles (`spec`), the inputs of a run
(`inputs`), DPO and GRPO with LoRA (`dpo`, `grpo`, `sequences`), per-group reward models
(`reward`), held-out evaluation (`heldout`), one run (`runner`), the atomic run store (`store`),
sweeps (`sweep`), the chapter's report (`report`) and re-keying the store (`rekey`)."""
