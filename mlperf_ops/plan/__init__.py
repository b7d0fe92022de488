"""Stage 2, plan: the run matrix from manifest, rules and ledger (pure), its estimate and LoadGen inputs."""
