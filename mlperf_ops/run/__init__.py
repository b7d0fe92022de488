"""Stage 4, apply: run what the plan says in containers, judge and verify each run, record it."""
