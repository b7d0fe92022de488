"""The manifest as another orchestrator's documents (`mlperf-ops render k8s`)."""
