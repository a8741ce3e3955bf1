"""Benchmarks of the two costs that set a sweep's price: DPO training throughput (`train`) and
batched generation (`generate`)."""
