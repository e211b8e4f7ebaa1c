"""Speed benchmarks against the published CNEEP training loop: `cneep bench throughput` and `cneep bench accuracy`."""
